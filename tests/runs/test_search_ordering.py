"""order_by, keyset pagination and cursors of run search (runs: see test_search.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.core.cursors import cursor_encode
from apps.core.errors import Invalid
from apps.runs.models import Run
from apps.runs.search import (
    MAX_ORDER_KEYS,
    MAX_PAGE_SIZE,
    SearchSyntaxError,
    parse_order_by,
    runs_search,
)
from apps.runs.search.ordering import order_signature, sort_columns
from tests.runs.search_world import T0, add_metric, add_param, make_runs

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs(project, other_project) -> dict[str, Run]:
    return make_runs(project, other_project)


def search(project, **kwargs) -> tuple[list[str], str | None]:
    page, cursor = runs_search(queryset=Run.objects.filter(project=project), **kwargs)
    return [run.name for run in page], cursor


def walk(project, *, page_size: int, **kwargs) -> list[str]:
    """Every run, page by page, following the cursors; fails on a repeated cursor."""
    seen: list[str] = []
    cursor = None
    cursors: set[str] = set()
    while True:
        page, cursor = search(project, page_size=page_size, cursor=cursor, **kwargs)
        assert 0 < len(page) <= page_size
        seen.extend(page)
        if cursor is None:
            return seen
        assert cursor not in cursors
        cursors.add(cursor)


ORDERS = [
    # newest first; created_at is one day apart per run
    ("", ["ResNet-C", "resnet-b", "resnet-a", "bert", "gpt"]),
    ("created DESC", ["ResNet-C", "resnet-b", "resnet-a", "bert", "gpt"]),
    ("attributes.start_time", ["gpt", "bert", "resnet-a", "resnet-b", "ResNet-C"]),
    # runs without acc (bert, gpt) last either way; their tie broken by pk
    ("metrics.acc DESC", ["resnet-a", "ResNet-C", "resnet-b", "bert", "gpt"]),
    ("metrics.acc ASC", ["resnet-b", "ResNet-C", "resnet-a", "gpt", "bert"]),
    ("metrics.acc", ["resnet-b", "ResNet-C", "resnet-a", "gpt", "bert"]),
    # resnet-b's loss is NaN: it sorts with the runs that have none
    ("metrics.loss", ["bert", "resnet-a", "gpt", "resnet-b", "ResNet-C"]),
    ("metric.loss desc", ["resnet-a", "bert", "ResNet-C", "resnet-b", "gpt"]),
    # params: numbers numerically ('100' after '10' and '9'), then text ('auto'), then none
    ("params.epochs DESC", ["ResNet-C", "resnet-a", "resnet-b", "bert", "gpt"]),
    ("params.epochs", ["resnet-b", "resnet-a", "ResNet-C", "gpt", "bert"]),
    ("params.lr", ["ResNet-C", "resnet-a", "resnet-b", "bert", "gpt"]),
    ("params.lr DESC", ["resnet-b", "resnet-a", "ResNet-C", "bert", "gpt"]),
    ("params.optimizer", ["ResNet-C", "resnet-a", "bert", "resnet-b", "gpt"]),
    # text in code-point order: upper case before lower case
    ("tags.team", ["ResNet-C", "resnet-a", "bert", "resnet-b", "gpt"]),
    ("name", ["ResNet-C", "bert", "gpt", "resnet-a", "resnet-b"]),
    ("attributes.run_name DESC", ["resnet-b", "resnet-a", "gpt", "bert", "ResNet-C"]),
    ("author DESC", ["bert", "resnet-b", "resnet-a", "gpt", "ResNet-C"]),
    ("status, metrics.acc desc", ["resnet-b", "resnet-a", "gpt", "bert", "ResNet-C"]),
    ("attributes.duration DESC", ["gpt", "resnet-b", "resnet-a", "bert", "ResNet-C"]),
    ("duration", ["bert", "resnet-a", "resnet-b", "gpt", "ResNet-C"]),
    ("end_time", ["gpt", "bert", "resnet-a", "resnet-b", "ResNet-C"]),
    # an empty branch is a value (''), not a missing one
    ("git.branch DESC, name", ["resnet-a", "resnet-b", "ResNet-C", "bert", "gpt"]),
    ("group, created", ["gpt", "ResNet-C", "bert", "resnet-a", "resnet-b"]),
]


@pytest.mark.parametrize(("order_by", "expected"), ORDERS, ids=[o[0] or "default" for o in ORDERS])
def test_order(runs, project, order_by, expected):
    assert search(project, order_by=order_by, page_size=1000) == (expected, None)


@pytest.mark.parametrize(("order_by", "expected"), ORDERS, ids=[o[0] or "default" for o in ORDERS])
@pytest.mark.parametrize("page_size", [1, 2])
def test_pages_visit_every_run_once_in_order(runs, project, order_by, expected, page_size):
    assert walk(project, order_by=order_by, page_size=page_size) == expected


def test_pages_of_a_filtered_search(runs, project):
    query = {"filter": "status != 'RUNNING'", "order_by": "metrics.acc desc"}
    first, cursor = search(project, page_size=2, **query)
    assert first == ["resnet-a", "resnet-b"]
    assert search(project, page_size=2, cursor=cursor, **query) == (["bert", "gpt"], None)


def test_exact_page_boundary_has_no_next(runs, project):
    assert search(project, page_size=5)[1] is None
    names, cursor = search(project, page_size=4)
    assert len(names) == 4
    assert search(project, page_size=4, cursor=cursor) == (["gpt"], None)


@pytest.fixture
def crowd(project) -> list[str]:
    """Ties, NULLs, NaN and infinities in metric x; the expected `metrics.x DESC` order."""
    values = {
        "n1": None,
        "t1": 0.5,
        "inf": float("inf"),
        "n2": None,
        "t2": 0.5,
        "ninf": float("-inf"),
        "nan": "nan",
        "t3": 0.5,
        "zero": 0.0,
        "n3": None,
    }
    for name, value in values.items():
        run = Run.objects.create(project=project, name=name, created_at=T0)
        if value == "nan":
            add_metric(run, "x", None)  # a NaN last value is stored as NULL
        elif value is not None:
            add_metric(run, "x", value)
        add_param(run, "p", "same")
    return ["inf", "t3", "t2", "t1", "zero", "ninf", "n3", "nan", "n2", "n1"]


@pytest.mark.parametrize("page_size", [1, 2, 3])
def test_keyset_over_ties_nulls_and_infinities(crowd, project, page_size):
    assert walk(project, order_by="metrics.x DESC", page_size=page_size) == crowd


@pytest.mark.parametrize("page_size", [1, 2, 4])
def test_keyset_ascending_over_ties_nulls_and_infinities(crowd, project, page_size):
    expected = ["ninf", "zero", "t1", "t2", "t3", "inf", "n1", "n2", "nan", "n3"]
    assert walk(project, order_by="metrics.x", page_size=page_size) == expected


def test_keyset_over_several_keys_with_nulls(crowd, project):
    # every run has p = 'same', created_at ties and no run has the tag: x decides, then
    # the pk, descending like the last key
    order = "params.p DESC, created, metrics.x, tags.none DESC"
    expected = ["ninf", "zero", "t3", "t2", "t1", "inf", "n3", "nan", "n2", "n1"]
    assert walk(project, order_by=order, page_size=2) == expected
    assert search(project, order_by=order, page_size=100)[0] == expected


def test_keyset_over_durations_and_times(project):
    for i, seconds in enumerate([5, None, 5, 0.25, None, 3600]):
        Run.objects.create(
            project=project,
            name=f"r{i}",
            started_at=T0,
            ended_at=T0 + timedelta(seconds=seconds) if seconds is not None else None,
        )
    expected = ["r5", "r2", "r0", "r3", "r4", "r1"]
    assert walk(project, order_by="duration desc", page_size=2) == expected
    expected_end = ["r3", "r0", "r2", "r5", "r1", "r4"]
    assert walk(project, order_by="end_time", page_size=1) == expected_end


def test_cursor_from_another_order_is_refused(runs, project):
    _, cursor = search(project, order_by="metrics.acc desc", page_size=2)
    with pytest.raises(Invalid) as exc:
        search(project, order_by="metrics.acc asc", page_size=2, cursor=cursor)
    assert exc.value.field == "cursor"
    assert exc.value.message == (
        "cursor does not belong to this filter and order_by; start again without one"
    )


def test_cursor_from_another_filter_is_refused(runs, project):
    _, cursor = search(project, filter="metrics.acc > 0", page_size=1)
    with pytest.raises(Invalid) as exc:
        search(project, filter="metrics.acc > 0.5", page_size=1, cursor=cursor)
    assert exc.value.field == "cursor"


def test_tampered_cursor_is_refused(runs, project):
    _, cursor = search(project, page_size=2)
    assert cursor is not None
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    with pytest.raises(Invalid) as exc:
        search(project, page_size=2, cursor=tampered)
    assert exc.value.field == "cursor"
    assert (
        exc.value.message == "cursor is not one this server issued; use the `next` value as given"
    )


def _signed(order_by: str, after: list) -> str:
    signature = order_signature(parse_order_by(order_by), "")
    return cursor_encode({"v": 1, "sig": signature, "after": after})


@pytest.mark.parametrize(
    "after",
    [
        [["s", "0.9"], ["i", 1]],  # a text value where a float belongs
        [["f", "0.9"]],  # too few values
        [["f", "0.9"], ["i", 1], ["i", 2]],  # too many
        [["f", "0.9"], None],  # no pk
        [["f", "zero"], ["i", 1]],
        [["f", "0.9"], ["i", True]],
        [["f", "0.9"], ["i", "1"]],
        [["f"], ["i", 1]],
        ["0.9", ["i", 1]],
        [7, ["i", 1]],
    ],
)
def test_signed_but_malformed_cursor_is_refused(runs, project, after):
    cursor = _signed("metrics.acc", after)
    with pytest.raises(Invalid) as exc:
        search(project, order_by="metrics.acc", page_size=2, cursor=cursor)
    assert exc.value.field == "cursor"


def test_cursor_values_keep_their_types(runs, project):
    cursor = _signed(
        "created, metrics.acc, name", [["t", T0.isoformat()], ["f", "inf"], None, ["i", 0]]
    )
    # Resume after (T0, +inf, NULL name, pk 0): gpt (created T0, no acc: its NULL sorts
    # after +inf) and every run created after T0.
    names, _ = search(project, order_by="created, metrics.acc, name", cursor=cursor, page_size=10)
    assert names == ["gpt", "bert", "resnet-a", "resnet-b", "ResNet-C"]


def test_cursor_with_naive_time_is_refused(runs, project):
    cursor = _signed("created", [["t", "2024-05-01T12:00:00"], ["i", 0]])
    with pytest.raises(Invalid) as exc:
        search(project, order_by="created", cursor=cursor, page_size=10)
    assert exc.value.field == "cursor"


@pytest.mark.parametrize(
    ("page_size", "message"),
    [
        (0, "page_size must be between 1 and 1000, got 0"),
        (-1, "page_size must be between 1 and 1000, got -1"),
        (1001, "page_size must be between 1 and 1000, got 1001"),
        (True, "page_size must be an integer"),
        (2.0, "page_size must be an integer"),
        ("10", "page_size must be an integer"),
    ],
)
def test_page_size_must_be_1_to_1000(runs, project, page_size, message):
    with pytest.raises(Invalid) as exc:
        search(project, page_size=page_size)
    assert (exc.value.field, exc.value.message) == ("page_size", message)


def test_page_size_bounds_are_inclusive(runs, project):
    names, cursor = search(project, page_size=1)
    assert names == ["ResNet-C"]
    assert cursor is not None
    assert search(project, page_size=MAX_PAGE_SIZE) == (
        ["ResNet-C", "resnet-b", "resnet-a", "bert", "gpt"],
        None,
    )


ORDER_ERRORS = [
    (
        "metrics.acc DESC ASC",
        "order_by: unexpected keyword ASC at column 18 (expected ASC, DESC or ',')",
    ),
    (
        "metrics.acc,",
        "order_by: unexpected end of text at column 13 "
        "(expected a sort key such as metrics.acc DESC)",
    ),
    (
        "metrics.acc DESCENDING",
        "order_by: unexpected 'DESCENDING' at column 13 (expected ASC, DESC or ',')",
    ),
    (
        "datasets.name",
        "order_by: cannot sort by datasets.name at column 1 (a run may have several datasets)",
    ),
    ("colour", "order_by: unknown attribute 'colour' at column 1 (valid: metrics.<key>, params."),
    ("metrics.acc; DROP TABLE runs_run", "order_by: unexpected character ';' at column 12"),
    ("tags.`a\x00`", "order_by: unexpected NUL character at column 8 (remove it)"),
]


@pytest.mark.parametrize(("order_by", "message"), ORDER_ERRORS, ids=[o[0] for o in ORDER_ERRORS])
def test_malformed_order_by_names_the_column(runs, project, order_by, message):
    with pytest.raises(SearchSyntaxError) as exc:
        search(project, order_by=order_by)
    assert exc.value.field == "order_by"
    assert exc.value.message.splitlines()[0].startswith(message)
    assert Run.objects.count() == len(runs) + 1


def test_order_keys_are_capped():
    keys = ", ".join(f"metrics.m{i}" for i in range(MAX_ORDER_KEYS))
    assert len(parse_order_by(keys)) == MAX_ORDER_KEYS
    with pytest.raises(SearchSyntaxError) as exc:
        parse_order_by(keys + ", name")
    assert exc.value.headline == (
        f"order_by: too many sort keys at column {len(keys) + 3} (the limit is 10)"
    )


def test_a_param_sorts_by_number_then_text():
    columns = sort_columns(parse_order_by("params.lr desc"))
    assert [(c.alias, c.kind, c.descending) for c in columns] == [
        ("search_sort_0", "float", True),
        ("search_sort_1", "text", True),
        ("pk", "int", True),
    ]
