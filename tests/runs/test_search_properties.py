"""Properties of run search (apps/runs/search): any text given as a filter or an
order_by is parsed or refused with the search error (a 400), never anything else;
every filter the grammar allows parses, prints back to a filter that parses to the
same tree, and runs against the database."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from apps.core.errors import Invalid
from apps.runs.models import Run
from apps.runs.search import MAX_VALUES, parse_filter, parse_order_by, runs_search
from apps.runs.search.fields import ParamOperand
from apps.runs.search.parser import And, Comparison, Not, Or

SETTINGS = settings(max_examples=300, derandomize=True, database=None, deadline=None)
DB_SETTINGS = settings(
    SETTINGS, max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# ---- the grammar, as a strategy -------------------------------------------------


def keyword(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word.lower(), word.upper(), word.capitalize()])


def quoted(text: str, quote: str = "'") -> str:
    return quote + text.replace(quote, quote * 2) + quote


keys = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=10)
texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=10)
BARE_KEY = re.compile(r"[A-Za-z0-9_/.-]+")


@st.composite
def key_names(draw, prefix: str) -> str:
    key = draw(keys)
    if BARE_KEY.fullmatch(key) and draw(st.booleans()):
        return f"{prefix}.{key}"
    return f"{prefix}.{quoted(key, draw(st.sampled_from('`' + chr(39) + chr(34))))}"


numbers = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
    st.sampled_from(["0.5", "-.5", "1e3", "1E-3", "-0", "1e400", "00.10"]),
)
strings = st.builds(quoted, texts, st.sampled_from(["'", '"']))
times = st.one_of(
    st.datetimes(
        # Hypothesis takes naive bounds; the times it draws carry an offset.
        min_value=datetime(1971, 1, 1),  # noqa: DTZ001
        max_value=datetime(9998, 1, 1),  # noqa: DTZ001
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=14))]
        ),
    ).map(lambda t: quoted(t.isoformat())),
    st.integers(0, 10**13).map(str),  # epoch milliseconds
)
durations = st.floats(-1e9, 1e9).map(lambda s: repr(round(s, 3)))

ORDERING = ["=", "==", "!=", "<>", "<", "<=", ">", ">="]
TEXT_ATTRIBUTES = [
    "name",
    "run_name",
    "status",
    "group",
    "author",
    "git.branch",
    "git_commit",
    "run_id",
    "client_id",
]
TIME_ATTRIBUTES = ["created", "start_time", "end_time", "started_at"]
DATASET_FIELDS = ["name", "digest", "hash", "uri", "source"]


@st.composite
def literal_list(draw, literals) -> str:
    values = draw(st.lists(literals, min_size=1, max_size=8))
    negated = draw(st.booleans())
    op = draw(keyword("in"))
    if negated:
        op = f"{draw(keyword('not'))} {op}"
    return f"{op} ({', '.join(values)})"


@st.composite
def comparisons(draw) -> str:
    kind = draw(st.sampled_from(["metric", "param", "tag", "text", "time", "duration", "data"]))
    if kind == "metric":
        prefix = draw(st.sampled_from(["metrics", "metric"]))
        name, literals = draw(key_names(prefix)), numbers
    elif kind == "param":
        name, literals = draw(key_names("params")), st.one_of(numbers, strings)
    elif kind == "tag":
        name, literals = draw(key_names("tags")), strings
    elif kind == "text":
        name, literals = draw(st.sampled_from(TEXT_ATTRIBUTES)), strings
    elif kind == "time":
        name, literals = draw(st.sampled_from(TIME_ATTRIBUTES)), times
    elif kind == "duration":
        name, literals = "duration", durations
    else:
        name, literals = f"datasets.{draw(st.sampled_from(DATASET_FIELDS))}", strings
    form = draw(st.sampled_from(["compare", "list", "like"]))
    if form == "list":
        return f"{name} {draw(literal_list(literals))}"
    if form == "like" and kind in ("param", "tag", "text", "data"):
        op = draw(st.sampled_from(["like", "ilike", "not like", "not ilike"]))
        return f"{name} {op.upper() if draw(st.booleans()) else op} {draw(strings)}"
    return f"{name} {draw(st.sampled_from(ORDERING))} {draw(literals)}"


def filters(max_leaves: int = 12) -> st.SearchStrategy[str]:
    return st.recursive(
        comparisons(),
        lambda inner: st.one_of(
            st.builds(lambda a, w, b: f"{a} {w} {b}", inner, keyword("and"), inner),
            st.builds(lambda a, w, b: f"{a} {w} {b}", inner, keyword("or"), inner),
            st.builds(lambda w, a: f"{w} {a}", keyword("not"), inner),
            inner.map(lambda a: f"({a})"),
        ),
        max_leaves=max_leaves,
    )


LONGEST_IN = "params.lr in (" + ", ".join(str(i) for i in range(MAX_VALUES)) + ")"
DEEPEST = "(" * 49 + "not metrics.acc > 0.5" + ")" * 49

# ---- a printer: a parsed tree back to filter text ----------------------------------


def _number(value: float) -> str:
    if math.isinf(value):
        return "1e400" if value > 0 else "-1e400"
    return repr(value)


_LEXED_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _operand(value: object) -> str:
    if isinstance(value, ParamOperand):
        bare = value.number is not None and _LEXED_NUMBER.fullmatch(value.text)
        return value.text if bare else quoted(value.text)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, datetime):
        return quoted(value.isoformat())
    if isinstance(value, timedelta):
        return repr(value.total_seconds())
    return quoted(str(value))


def _field(node: Comparison) -> str:
    field = node.field
    if field.entity == "attribute":
        return field.key
    if field.entity == "dataset":
        return f"datasets.{field.key}"
    prefix = {"metric": "metrics", "param": "params", "tag": "tags"}[field.entity]
    return f"{prefix}.{quoted(field.key, '`')}"


def printed(node) -> str:
    def child(n) -> str:
        return f"({printed(n)})" if isinstance(n, And | Or) else printed(n)

    if isinstance(node, And):
        return " and ".join(map(child, node.children))
    if isinstance(node, Or):
        return " or ".join(map(child, node.children))
    if isinstance(node, Not):
        return f"not {child(node.child)}"
    if node.op in ("in", "not in"):
        return f"{_field(node)} {node.op} ({', '.join(map(_operand, node.operands))})"
    return f"{_field(node)} {node.op} {_operand(node.operands[0])}"


def shape(node):
    """The tree without the columns (which depend on the spelling)."""
    if isinstance(node, And | Or):
        return (type(node).__name__, tuple(map(shape, node.children)))
    if isinstance(node, Not):
        return ("Not", shape(node.child))
    if node is None:
        return None
    return (node.field, node.op, node.operands)


# ---- properties --------------------------------------------------------------------

TOKENS = st.sampled_from(
    [
        "metrics.",
        "params.lr",
        "tags.`a``b`",
        "datasets.name",
        "status",
        "duration",
        "start_time",
        "and",
        "OR",
        "not",
        "in",
        "like",
        "ilike",
        "asc",
        "desc",
        "(",
        ")",
        ",",
        "=",
        "!=",
        "<>",
        "<=",
        ">",
        "'x'",
        '"y',
        "'it''s'",
        "`",
        "0.5",
        "-1e400",
        "1e",
        "-.",
        "99999999999999999999999",
        "'9999-12-31T23:59:59-14:00'",
        "'2024-01-01'",
        " ",
        "\n",
        "\x00",
        "é",
        "\u0661",
        "..",
        ".",
    ]
)
soup = st.lists(TOKENS, max_size=25).map(" ".join)
any_text = st.one_of(st.text(max_size=60), soup)


@SETTINGS
@given(text=any_text)
@example(text=LONGEST_IN + ", 1)")
@example(text="(" * 51 + "metrics.a > 1" + ")" * 51)
@example(text=" or ".join(["metrics.a > 1"] * 101))
@example(text="x" * 10_001)
def test_any_filter_text_is_parsed_or_refused_with_a_search_error(text):
    try:
        parse_filter(text)
    except Invalid as refused:
        assert refused.field == "filter" and refused.message


@SETTINGS
@given(text=any_text)
def test_any_order_by_text_is_parsed_or_refused_with_a_search_error(text):
    try:
        parse_order_by(text)
    except Invalid as refused:
        assert refused.field == "order_by" and refused.message


@SETTINGS
@given(text=filters())
@example(text=LONGEST_IN)
@example(text=DEEPEST)
def test_a_filter_the_grammar_allows_parses_and_prints_back_to_the_same_tree(text):
    tree = parse_filter(text)
    again = parse_filter(printed(tree))
    assert shape(again) == shape(tree)


@pytest.mark.django_db
@DB_SETTINGS
@given(
    text=filters(max_leaves=6),
    order=st.sampled_from(
        ["", "metrics.acc desc", "params.lr, name", "duration desc, tags.team", "start_time asc"]
    ),
)
@example(text=LONGEST_IN, order="")
@example(text="not " + LONGEST_IN.replace(" in ", " not in "), order="params.lr")
@example(text="tags.team in (" + ", ".join(f"'t{i}'" for i in range(MAX_VALUES)) + ")", order="")
def test_a_filter_the_grammar_allows_runs_against_the_database(runs, project, text, order):
    page, _ = runs_search(queryset=Run.objects.filter(project=project), filter=text, order_by=order)
    assert {run.project_id for run in page} <= {project.pk}


@pytest.mark.django_db
@DB_SETTINGS
@given(text=any_text)
def test_any_filter_text_runs_or_is_refused_with_a_search_error(runs, project, text):
    try:
        runs_search(queryset=Run.objects.filter(project=project), filter=text)
    except Invalid as refused:
        assert refused.field == "filter"
