"""The run-search filter language: what each filter matches, and what it rejects.

``make_runs`` builds the shared world (also used by test_search_ordering.py):

=========  ========  ======  ====  ======  =====  ===========  ======  ========  =========
run        status    author  acc   loss    lr     optimizer    epochs  team      duration
=========  ========  ======  ====  ======  =====  ===========  ======  ========  =========
gpt        FINISHED  alice   -     -       -      -            -       -         7200 s
bert       KILLED    carol   -     0.05    auto   adamw        -       nlp r...  60 s
resnet-a   FINISHED  alice   0.95  0.10    0.001  adam         10      nlp       600 s
resnet-b   FAILED    bob     0.80  NaN     0.01   sgd          9       vision    3600 s
ResNet-C   RUNNING   -       0.90  -       1e-4   Adam         100     NLP       (running)
=========  ========  ======  ====  ======  =====  ===========  ======  ========  =========

Runs are created in that order (so pks ascend down the table), one day apart from
2024-05-01T12:00Z, each started 10 s after it was created. ``outside`` lives in
another project and matches nearly everything; it must never appear.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Q

from apps.core.errors import Invalid
from apps.runs.models import DatasetVersion, MetricSummary, Param, Run, Tag
from apps.runs.search import (
    MAX_COMPARISONS,
    MAX_FILTER_LENGTH,
    MAX_NESTING,
    MAX_VALUES,
    SearchSyntaxError,
    compile_filter,
    parse_filter,
    runs_search,
)
from apps.runs.search.fields import Field, ParamOperand, ValueType
from apps.runs.search.parser import And, Comparison, Not, Or
from apps.runs.validation import number_or_none
from tests.factories import UserFactory

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ALL = {"gpt", "bert", "resnet-a", "resnet-b", "ResNet-C"}

RUN_SPECS = [
    {
        "name": "gpt",
        "status": "FINISHED",
        "author": "alice_admin",
        "duration": 7200,
    },
    {
        "name": "bert",
        "status": "KILLED",
        "author": "carol_viewer",
        "group": "nlp",
        "duration": 60,
        "metrics": {"loss": 0.05},
        "params": {"optimizer": "adamw", "lr": "auto"},
        "tags": {"team": "nlp research", "note": "it's"},
        "datasets": {"eval": "d1"},
    },
    {
        "name": "resnet-a",
        "status": "FINISHED",
        "author": "alice_admin",
        "group": "vision",
        "git_branch": "main",
        "git_commit": "abc123",
        "client_id": "sdk-resnet-a",
        "duration": 600,
        "metrics": {
            "acc": 0.95,
            "loss": 0.10,
            "rmse": 0.5,
            "train/loss": 0.2,
            "my key.with dots": 1.0,
        },
        "params": {
            "lr": "0.001",
            "optimizer": "adam",
            "epochs": "10",
            "model_class": "LogisticRegression",
        },
        "tags": {"team": "nlp", "mlflow.runName": "resnet-a", "has space": "yes"},
        "datasets": {"train": "d1"},
    },
    {
        "name": "resnet-b",
        "status": "FAILED",
        "author": "bob_member",
        "group": "vision",
        "git_branch": "main",
        "git_commit": "def456",
        "duration": 3600,
        "metrics": {"acc": 0.80, "loss": None, "rmse": 2.0, "train/loss": 0.5},
        "params": {
            "lr": "0.01",
            "optimizer": "sgd",
            "epochs": "9",
            "model_class": "RandomForest",
        },
        "tags": {"team": "vision"},
        "datasets": {"train": "d2"},
    },
    {
        "name": "ResNet-C",
        "status": "RUNNING",
        "author": None,
        "git_branch": "feature/x",
        "metrics": {"acc": 0.90},
        "params": {"lr": "1e-4", "optimizer": "Adam", "epochs": "100"},
        "tags": {"team": "NLP"},
    },
]


def add_metric(run: Run, key: str, last: float | None) -> None:
    MetricSummary.objects.create(
        run=run, key=key, last=last, min=last, max=last, last_step=0, count=1, last_timestamp=T0
    )


def add_param(run: Run, key: str, value: str) -> None:
    Param.objects.create(run=run, key=key, value=value, value_num=number_or_none(value))


def make_run(project, spec: dict, created_at: datetime) -> Run:
    author = UserFactory(username=spec["author"]) if spec.get("author") else None
    started_at = created_at + timedelta(seconds=10)
    duration = spec.get("duration")
    run = Run.objects.create(
        project=project,
        public_id=f"pid-{spec['name'].lower()}",
        name=spec["name"],
        status=spec["status"],
        author=author,
        group=spec.get("group", ""),
        git_branch=spec.get("git_branch", ""),
        git_commit=spec.get("git_commit", ""),
        client_id=spec.get("client_id"),
        created_at=created_at,
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=duration) if duration is not None else None,
    )
    for key, last in spec.get("metrics", {}).items():
        add_metric(run, key, last)
    for key, value in spec.get("params", {}).items():
        add_param(run, key, value)
    for key, value in spec.get("tags", {}).items():
        Tag.objects.create(run=run, key=key, value=value)
    for name, digest in spec.get("datasets", {}).items():
        DatasetVersion.objects.create(run=run, name=name, digest=digest)
    return run


def make_runs(project, other_project) -> dict[str, Run]:
    runs = {
        spec["name"]: make_run(project, spec, T0 + timedelta(days=i))
        for i, spec in enumerate(RUN_SPECS)
    }
    outside = {
        **RUN_SPECS[2],
        "name": "outside",
        "status": "FAILED",
        "author": "bob_member",
        "metrics": {"acc": 0.5, "loss": 0.07, "rmse": 0.1},
        "tags": {"team": "nlp", "note": "it's"},
    }
    make_run(other_project, outside, T0 + timedelta(days=3))
    return runs


@pytest.fixture
def runs(project, other_project) -> dict[str, Run]:
    return make_runs(project, other_project)


def names(project, filter_text: str) -> set[str]:
    page, _ = runs_search(
        queryset=Run.objects.filter(project=project), filter=filter_text, page_size=1000
    )
    return {run.name for run in page}


def headline(exc: pytest.ExceptionInfo[Invalid]) -> str:
    """The first line of the error: the sentence without the caret excerpt."""
    return exc.value.message.splitlines()[0]


CASES = [
    # metrics compare the summary's last value
    ("", ALL),
    ("   ", ALL),
    ("metrics.acc > 0.9", {"resnet-a"}),
    ("metrics.acc >= 0.9", {"resnet-a", "ResNet-C"}),
    ("metrics.acc < 0.9", {"resnet-b"}),
    ("metrics.acc <= 0.9", {"resnet-b", "ResNet-C"}),
    ("metrics.acc = 0.9", {"ResNet-C"}),
    ("metrics.acc == 0.9", {"ResNet-C"}),
    ("metrics.acc != 0.9", {"resnet-a", "resnet-b"}),
    ("metrics.acc <> 0.9", {"resnet-a", "resnet-b"}),
    ("metrics.acc>0.9", {"resnet-a"}),
    ("metrics.acc > .85", {"resnet-a", "ResNet-C"}),
    ("metrics.acc > -1e3", {"resnet-a", "resnet-b", "ResNet-C"}),
    ("metrics.acc < 9.5E-1", {"resnet-b", "ResNet-C"}),
    ("metrics.acc in (0.9, 0.8)", {"ResNet-C", "resnet-b"}),
    ("metrics.acc not in (0.9, 0.8)", {"resnet-a"}),
    ("metric.acc > 0.85", {"resnet-a", "ResNet-C"}),
    ("metrics.Acc > 0", set()),
    ("metrics.train/loss < 0.3", {"resnet-a"}),
    ("metrics.`my key.with dots` = 1", {"resnet-a"}),
    ('metrics."my key.with dots" = 1.0', {"resnet-a"}),
    ("metrics.'my key.with dots' = 1e0", {"resnet-a"}),
    # a NaN last value (NULL) never satisfies a comparison, not even !=
    ("metrics.loss < 1", {"resnet-a", "bert"}),
    ("metrics.loss != 0.1", {"bert"}),
    ("metrics.loss not in (0.1)", {"bert"}),
    ("not metrics.loss < 1", {"resnet-b", "ResNet-C", "gpt"}),
    # MLflow's documented examples
    ("metrics.rmse < 1 and params.model_class = 'LogisticRegression'", {"resnet-a"}),
    ("attributes.status = 'FINISHED'", {"resnet-a", "gpt"}),
    ('attributes.status = "FAILED"', {"resnet-b"}),
    ("tags.\"mlflow.runName\" = 'resnet-a'", {"resnet-a"}),
    ("tags.`mlflow.runName` = 'resnet-a'", {"resnet-a"}),
    ("attributes.run_name ILIKE '%resnet%'", {"resnet-a", "resnet-b", "ResNet-C"}),
    ("run_id IN ('pid-resnet-a', 'pid-bert')", {"resnet-a", "bert"}),
    ("attributes.run_id = 'pid-gpt'", {"gpt"}),
    ("attributes.`Run name` IN ('bert', 'gpt')", {"bert", "gpt"}),
    ("attributes.Created > 1714737600000", {"resnet-b", "ResNet-C"}),
    ("attributes.start_time >= 1714737600000", {"resnet-a", "resnet-b", "ResNet-C"}),
    # params: numbers when both sides parse as numbers, text otherwise
    ("params.optimizer = 'adam'", {"resnet-a"}),
    ('params.optimizer = "adam"', {"resnet-a"}),
    ("params.optimizer != 'adam'", {"resnet-b", "ResNet-C", "bert"}),
    ("param.optimizer = 'sgd'", {"resnet-b"}),
    ("parameters.optimizer = 'sgd'", {"resnet-b"}),
    ("params.lr = 0.001", {"resnet-a"}),
    ("params.lr = '0.0010'", {"resnet-a"}),
    ("params.lr = 1e-3", {"resnet-a"}),
    ("params.lr < '0.001'", {"ResNet-C"}),
    # 'auto' does not parse, so it is compared as text: 'auto' > '0.001'
    ("params.lr > 0.001", {"resnet-b", "bert"}),
    ("params.lr = 'auto'", {"bert"}),
    ("params.epochs > 9", {"resnet-a", "ResNet-C"}),
    ("params.epochs > '9'", {"resnet-a", "ResNet-C"}),
    ("params.epochs < 10", {"resnet-b"}),
    ("params.epochs >= 10", {"resnet-a", "ResNet-C"}),
    ("params.epochs <= 9.0", {"resnet-b"}),
    ("params.lr in ('0.01', 'auto')", {"resnet-b", "bert"}),
    ("params.lr not in (0.01, 'auto')", {"resnet-a", "ResNet-C"}),
    ("params.optimizer like 'adam%'", {"resnet-a", "bert"}),
    ("params.optimizer LIKE 'ada_'", {"resnet-a"}),
    ("params.optimizer ilike 'adam%'", {"resnet-a", "ResNet-C", "bert"}),
    ("params.optimizer not like 'adam%'", {"resnet-b", "ResNet-C"}),
    ("params.optimizer NOT ILIKE '%AM%'", {"resnet-b"}),
    ("params.missing = 'x'", set()),
    ("not params.missing = 'x'", ALL),
    # tags: text
    ('tags.team = "nlp"', {"resnet-a"}),
    ("tag.team != 'nlp'", {"resnet-b", "ResNet-C", "bert"}),
    ("tags.team ilike 'nlp%'", {"resnet-a", "ResNet-C", "bert"}),
    ("tags.team like 'nlp%'", {"resnet-a", "bert"}),
    ("tags.team like '%research'", {"bert"}),
    ("tags.team like 'nlp_research'", {"bert"}),
    ("tags.team like 'nlp\\_research'", set()),
    ("tags.team in ('nlp', 'vision')", {"resnet-a", "resnet-b"}),
    ("tags.team < 'n'", {"ResNet-C"}),
    ("tags.`has space` = 'yes'", {"resnet-a"}),
    ("tags.note = 'it''s'", {"bert"}),
    ('tags.note = "it\'s"', {"bert"}),
    ("tags.team = 'nlp'or status='FAILED'", {"resnet-a", "resnet-b"}),
    # attributes
    ("status = 'finished'", {"resnet-a", "gpt"}),
    ("attribute.status != 'finished'", {"resnet-b", "ResNet-C", "bert"}),
    ("status in ('failed', 'Killed')", {"resnet-b", "bert"}),
    ("status not in ('FINISHED')", {"resnet-b", "ResNet-C", "bert"}),
    ("status like 'fin%'", {"resnet-a", "gpt"}),
    ("attributes.name like 'resnet%'", {"resnet-a", "resnet-b"}),
    ("run_name = 'bert'", {"bert"}),
    ("name >= 'r'", {"resnet-a", "resnet-b"}),
    ("author = 'alice_admin'", {"resnet-a", "gpt"}),
    ("user_id = 'bob_member'", {"resnet-b"}),
    ("author != 'alice_admin'", {"resnet-b", "bert"}),
    ("not author = 'alice_admin'", {"resnet-b", "ResNet-C", "bert"}),
    ("author = 'alice_admin' or name = 'ResNet-C'", {"resnet-a", "gpt", "ResNet-C"}),
    ("author like 'b%'", {"resnet-b"}),
    ("group = 'vision'", {"resnet-a", "resnet-b"}),
    ("git.branch = 'main'", {"resnet-a", "resnet-b"}),
    ("attributes.git.branch like 'feature/%'", {"ResNet-C"}),
    ("git_commit like 'abc%'", {"resnet-a"}),
    # client_id: how the SDK finds the run to resume; runs without one never match
    ("client_id = 'sdk-resnet-a'", {"resnet-a"}),
    ("attributes.client_id != 'other'", {"resnet-a"}),
    ("not client_id = 'sdk-resnet-a'", ALL - {"resnet-a"}),
    ("id != 'pid-gpt'", ALL - {"gpt"}),
    ("created > '2024-05-03'", {"resnet-a", "resnet-b", "ResNet-C"}),
    ("created >= '2024-05-03T12:00:00Z'", {"resnet-a", "resnet-b", "ResNet-C"}),
    ("created > '2024-05-03T14:00:00+02:00'", {"resnet-b", "ResNet-C"}),
    ("end_time < '2024-05-02T13:00:00Z'", {"gpt", "bert"}),
    ("end_time != '2000-01-01'", ALL - {"ResNet-C"}),
    ("attributes.duration > 600", {"resnet-b", "gpt"}),
    ("duration <= 600", {"resnet-a", "bert"}),
    ("duration = 60", {"bert"}),
    ("not duration > 600", {"resnet-a", "bert", "ResNet-C"}),
    # datasets: a run matches when any of its datasets does
    ("datasets.digest = 'd1'", {"resnet-a", "bert"}),
    ("dataset.digest = 'd1'", {"resnet-a", "bert"}),
    ("datasets.hash = 'd2'", {"resnet-b"}),
    ("datasets.name = 'eval'", {"bert"}),
    ("datasets.digest != 'd1'", {"resnet-b"}),
    ("datasets.name in ('train')", {"resnet-a", "resnet-b"}),
    ("not datasets.name = 'train'", {"ResNet-C", "bert", "gpt"}),
    # and / or / not / parentheses, keywords in any case
    ("metrics.acc > 0.85 and params.optimizer = 'adam'", {"resnet-a"}),
    ("METRICS.acc > 0.9 AnD Params.optimizer = 'adam'", {"resnet-a"}),
    ("metrics.acc > 0.85 or tags.team = 'vision'", {"resnet-a", "ResNet-C", "resnet-b"}),
    ("status = 'FAILED' or status = 'KILLED' and name = 'nope'", {"resnet-b"}),
    ("(status = 'FAILED' or status = 'KILLED') and name = 'nope'", set()),
    (
        "(status = 'FINISHED' or status = 'KILLED') and not metrics.loss > 0.07",
        {"gpt", "bert"},
    ),
    ("not (status = 'FAILED' or status = 'KILLED')", {"resnet-a", "ResNet-C", "gpt"}),
    ("NOT NOT status = 'FAILED'", {"resnet-b"}),
    ("((((status = 'FAILED'))))", {"resnet-b"}),
    # quotes inside literals are data, never syntax
    ("tags.team = 'nlp'' OR ''1''=''1'", set()),
    ("tags.note = 'it''s'' OR name = ''gpt'", set()),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("filter_text", "expected"), CASES, ids=[c[0] or "empty" for c in CASES])
def test_filter_matches(runs, project, filter_text, expected):
    assert names(project, filter_text) == expected


def test_parse_filter_builds_the_tree():
    tree = parse_filter("metrics.acc > 0.9 and not (tags.t = 'x' or params.lr = '1e-3')")
    assert tree == And(
        (
            Comparison(Field("metric", "acc", ValueType.NUMBER), ">", (0.9,), 1),
            Not(
                Or(
                    (
                        Comparison(Field("tag", "t", ValueType.TEXT), "=", ("x",), 28),
                        Comparison(
                            Field("param", "lr", ValueType.PARAM),
                            "=",
                            (ParamOperand("1e-3", 0.001),),
                            44,
                        ),
                    )
                )
            ),
        )
    )


def test_parse_filter_reads_times_as_utc():
    tree = parse_filter("created > '2024-05-01T12:00:00' and end_time < 1714564800000")
    assert isinstance(tree, And)
    assert [c.operands for c in tree.children] == [(T0,), (T0,)]


def test_blank_filter_compiles_to_everything():
    assert parse_filter("  \n ") is None
    assert compile_filter(None) == Q()


ERRORS = [
    (
        "metrics.acc xyz 1",
        "filter: unexpected 'xyz' at column 13 "
        "(expected =, !=, <, <=, >, >=, IN, NOT IN, LIKE or ILIKE)",
    ),
    (
        "metrics.acc > ",
        "filter: unexpected end of text at column 15 (expected a quoted string or a number)",
    ),
    (
        "metrics.acc > '0.9'",
        "filter: metrics.acc is a number and cannot be compared with string '0.9' at column 15 "
        "(write a bare number, as in metrics.acc > 0.5)",
    ),
    (
        "metrics.acc like '%9'",
        "filter: LIKE cannot be used with metrics.acc at column 13 "
        "(it allows !=, <, <=, =, >, >=, IN, NOT IN)",
    ),
    (
        "status = 1",
        "filter: status is text and cannot be compared with number 1 at column 10 "
        "(quote it: status = '1')",
    ),
    (
        "duration > '1h'",
        "filter: duration is a number of seconds and cannot be compared with string '1h' "
        "at column 12 (write a bare number, as in duration > 3600)",
    ),
    (
        "created > 'yesterday'",
        "filter: created cannot be compared with string 'yesterday' at column 11 "
        "(write an ISO-8601 time such as '2024-05-01T12:00:00Z' or epoch milliseconds)",
    ),
    (
        "params.x like 5",
        "filter: unexpected number 5 at column 15 (LIKE takes a quoted pattern such as '%resnet%')",
    ),
    ("params.x = 'abc", "filter: unterminated string at column 12 (close it with ')"),
    ("tags.`a b = 'x'", "filter: unterminated backquoted name at column 6 (close it with `)"),
    (
        "metrics. > 1",
        "filter: missing key after 'metrics.' at column 9 "
        "(write metrics.name; quote keys with other characters: metrics.`my key`)",
    ),
    ("metrics > 1", "filter: missing key after 'metrics' at column 1 (write metrics.<key>)"),
    (
        "(status = 'FAILED'",
        "filter: unexpected end of text at column 19 "
        "(expected ')' to close the '(' at column 1, or AND / OR)",
    ),
    (
        "status = 'FAILED')",
        "filter: unexpected ')' at column 18 (expected AND, OR or the end of the filter)",
    ),
    (
        "params.x in ()",
        "filter: unexpected ')' at column 14 (expected a quoted string or a number)",
    ),
    (
        "params.x in ('a' 'b')",
        "filter: unexpected string 'b' at column 18 (expected ',' or ')' in the list of values)",
    ),
    (
        "params.x not = 1",
        "filter: unexpected '=' at column 14 (expected IN, LIKE or ILIKE after NOT)",
    ),
    ("metrics.acc > 1abc", "filter: unexpected 'a' in a number at column 16"),
    ("metrics.acc > 1.2.3", "filter: unexpected '.' in a number at column 18"),
    (
        "and status = 'X'",
        "filter: unexpected keyword AND at column 1 (expected a comparison such as "
        "metrics.acc > 0.9, NOT, or '('; the left side must be an identifier)",
    ),
    (
        "'FAILED' = status",
        "filter: unexpected string 'FAILED' at column 1 (expected a comparison such as "
        "metrics.acc > 0.9, NOT, or '('; the left side must be an identifier)",
    ),
    (
        "`acc` > 1",
        "filter: unexpected backquoted name at column 1 "
        "(a backquoted key follows a prefix, as in metrics.`my key`)",
    ),
    ("status = 'X' & name = 'y'", "filter: unexpected character '&' at column 14"),
    ("name = 'a\x00b'", "filter: unexpected NUL character at column 10 (remove it)"),
    (
        "datasets.context = 'train'",
        "filter: unknown dataset field 'context' at column 1 (valid: datasets.name, "
        "datasets.digest, datasets.hash, datasets.uri, datasets.source)",
    ),
]


@pytest.mark.parametrize(("filter_text", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_malformed_filter_names_the_column(filter_text, message):
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter(filter_text)
    assert exc.value.field == "filter"
    assert headline(exc) == message


def test_error_message_carries_a_caret_excerpt():
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter("metrics.acc xyz 1")
    assert exc.value.column == 13
    assert exc.value.message.splitlines()[1:] == ["  metrics.acc xyz 1", "              ^"]


def test_caret_excerpt_of_a_long_filter_is_a_window():
    text = "status = 'FINISHED' and " * 10 + "metrics.acc ! 1"
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter(text)
    position = text.index("!")
    assert exc.value.column == position + 1
    line, caret = exc.value.message.splitlines()[1:]
    assert line == "  …" + text[position - 30 :]
    assert caret.index("^") == line.index("!")


def test_unknown_attribute_lists_the_valid_ones():
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter("status = 'FAILED' and artifact_uri = 'x'")
    assert headline(exc) == (
        "filter: unknown attribute 'artifact_uri' at column 23 (valid: metrics.<key>, "
        "params.<key>, tags.<key>, datasets.name, datasets.digest, datasets.uri, "
        "datasets.source, or an attribute: run_id, name, status, author, group, git.branch, "
        "git.commit, client_id, created, start_time, end_time, duration)"
    )


def test_unknown_prefix_lists_the_valid_ones():
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter("metricz.acc > 1")
    assert headline(exc).startswith(
        "filter: unknown prefix 'metricz' at column 1 (valid: metrics.<key>, params.<key>, "
    )


def test_filter_length_is_capped():
    parse_filter("name = '" + "x" * (MAX_FILTER_LENGTH - 9) + "'")
    with pytest.raises(Invalid) as exc:
        parse_filter("name = '" + "x" * (MAX_FILTER_LENGTH - 8) + "'")
    assert exc.value.field == "filter"
    assert exc.value.message == "filter is 10001 characters long; the limit is 10000"


def test_comparisons_are_capped():
    parse_filter(" or ".join(["name = 'x'"] * MAX_COMPARISONS))
    text = " or ".join(["name = 'x'"] * (MAX_COMPARISONS + 1))
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter(text)
    column = len("name = 'x' or ") * MAX_COMPARISONS + 1
    assert headline(exc) == f"filter: too many comparisons at column {column} (the limit is 100)"


def test_nesting_is_capped():
    parse_filter("(" * MAX_NESTING + "name = 'x'" + ")" * MAX_NESTING)
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter("(" * (MAX_NESTING + 1) + "name = 'x'" + ")" * (MAX_NESTING + 1))
    assert headline(exc) == (
        "filter: too deeply nested at column 51 (the limit is 50 levels of parentheses and NOT)"
    )
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter("not " * (MAX_NESTING + 1) + "name = 'x'")
    assert headline(exc).startswith("filter: too deeply nested at column 201 ")


def test_in_list_values_are_capped():
    values = ", ".join(["'v'"] * MAX_VALUES)
    parse_filter(f"name in ({values})")
    with pytest.raises(SearchSyntaxError) as exc:
        parse_filter(f"name in ({values}, 'w')")
    column = len(f"name in ({values}, ") + 1
    assert headline(exc) == (
        f"filter: too many values in IN lists at column {column} (the limit is 1000 in all)"
    )


def test_filter_must_be_text():
    with pytest.raises(Invalid) as exc:
        parse_filter(["status = 'FAILED'"])  # type: ignore[arg-type]
    assert (exc.value.field, exc.value.message) == ("filter", "filter must be a string")


INJECTIONS = [
    ("params.x = '1' or 1=1 --", "filter: unexpected number 1 at column 19 "),
    ("params.x = '1'; DROP TABLE runs_run; --", "filter: unexpected character ';' at column 15"),
    ("name = 'x' -- comment", "filter: unexpected character '-' at column 12"),
    ("name = 'x' /* */", "filter: unexpected character '/' at column 12"),
    ("name = 'x' union select 1", "filter: unexpected 'union' at column 12 "),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("filter_text", "start"), INJECTIONS, ids=[i[0] for i in INJECTIONS])
def test_injection_attempts_are_rejected(runs, project, filter_text, start):
    with pytest.raises(SearchSyntaxError) as exc:
        names(project, filter_text)
    assert headline(exc).startswith(start)
    assert Run.objects.count() == len(runs) + 1


@pytest.mark.django_db
def test_quoted_injection_is_a_literal_sent_as_a_parameter(runs, project):
    queryset = Run.objects.filter(compile_filter(parse_filter("tags.team = 'a'' OR ''1''=''1'")))
    sql, params = queryset.query.sql_with_params()
    assert "a' OR '1'='1" in params
    assert "'1'='1'" not in sql
    assert list(queryset) == []
    assert Run.objects.count() == len(runs) + 1


@pytest.mark.django_db
def test_search_is_one_query(runs, project, django_assert_num_queries):
    search = {
        "queryset": Run.objects.filter(project=project),
        "filter": "metrics.acc > 0.5 and params.lr > 0 and tags.team ilike '%' "
        "and author != 'x' and datasets.digest != ''",
        "order_by": "metrics.acc desc, params.lr, tags.team, author, duration",
        "page_size": 1,
    }
    with django_assert_num_queries(1):
        page, cursor = runs_search(**search)
    assert [r.name for r in page] == ["resnet-a"]
    with django_assert_num_queries(1):
        page, cursor = runs_search(**search, cursor=cursor)
    assert [r.name for r in page] == ["resnet-b"]
    assert cursor is None


@pytest.mark.django_db
def test_metric_filters_are_exists_subqueries(runs, project):
    sql, _ = Run.objects.filter(
        compile_filter(parse_filter("metrics.acc > 0.5"))
    ).query.sql_with_params()
    assert "EXISTS(SELECT" in sql.replace("EXISTS (SELECT", "EXISTS(SELECT")
    assert "JOIN" not in sql


@pytest.mark.django_db
def test_like_is_case_sensitive(runs, project):
    # SQLite's LIKE ignores case; the search must not inherit that.
    assert names(project, "name like 'resnet%'") == {"resnet-a", "resnet-b"}
    assert names(project, "name like 'RESNET%'") == set()
    assert names(project, "name ilike 'RESNET%'") == {"resnet-a", "resnet-b", "ResNet-C"}


@pytest.mark.django_db
def test_like_wildcards_span_newlines_and_metacharacters_are_literal(project):
    run = Run.objects.create(project=project, name="line one\nline two (v1.0) [x]*+?^$|{}")
    Tag.objects.create(run=run, key="t", value="a\nb")
    assert names(project, "name like 'line%two%'") == {run.name}
    assert names(project, "name like '%(v1.0) [x]*+?^$|{}'") == {run.name}
    assert names(project, "name like '%(v1_0)%'") == {run.name}
    assert names(project, "name like '%(v1\\_0)%'") == set()
    assert names(project, "name like '%.%' and name like '%(v1.0)%'") == {run.name}
    assert names(project, "tags.t like 'a_b'") == {run.name}
    assert names(project, "tags.t like 'a%'") == {run.name}
    assert names(project, "tags.t = 'a'") == set()


@pytest.mark.django_db
def test_like_backslash_escapes(project):
    Run.objects.create(project=project, name="C:\\dir 100%")
    Run.objects.create(project=project, name="C:dir 1000")
    assert names(project, "name like 'C:\\\\dir%'") == {"C:\\dir 100%"}
    assert names(project, "name like '%100\\%'") == {"C:\\dir 100%"}
    assert names(project, "name like '%100%'") == {"C:\\dir 100%", "C:dir 1000"}
    assert names(project, "name like 'C:\\dir%'") == {"C:dir 1000"}
    assert names(project, "name like '%0\\'") == set()


@pytest.mark.django_db
def test_like_with_many_wildcards_is_not_catastrophic(project):
    # A backtracking regex would take minutes on this; LIKE/GLOB answer at once.
    Run.objects.create(project=project, name="a" * 250)
    Tag.objects.create(run=Run.objects.get(project=project), key="t", value="a" * 5000)
    started = time.monotonic()
    assert names(project, "name like '" + "%a" * 40 + "%b'") == set()
    assert names(project, "tags.t ilike '" + "%a" * 40 + "%b'") == set()
    assert time.monotonic() - started < 2.0


@pytest.mark.django_db
def test_infinite_metrics_compare(project):
    up = Run.objects.create(project=project, name="up")
    down = Run.objects.create(project=project, name="down")
    add_metric(up, "loss", float("inf"))
    add_metric(down, "loss", float("-inf"))
    assert names(project, "metrics.loss > 1e308") == {"up"}
    assert names(project, "metrics.loss < -1e308") == {"down"}
    assert names(project, "metrics.loss > 1e999") == set()
    assert names(project, "metrics.loss >= 1e999") == {"up"}
