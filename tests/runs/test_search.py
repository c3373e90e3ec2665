"""The run-search filter language: what each filter matches (the world is in
search_world.py)."""

from __future__ import annotations

import time

import pytest
from django.db.models import Q

from apps.runs.models import Run, Tag
from apps.runs.search import (
    compile_filter,
    parse_filter,
    runs_search,
)
from apps.runs.search.fields import Field, ParamOperand, ValueType
from apps.runs.search.parser import And, Comparison, Not, Or
from tests.runs.search_world import (
    ALL,
    T0,
    add_metric,
    names,
)

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


@pytest.mark.django_db
def test_search_is_one_query(runs, project, django_assert_num_queries, settings):
    # Without the statement timeout's SET LOCAL and savepoint on PostgreSQL (counted in
    # tests/runs/test_search_timeout.py).
    settings.KIROKU_SEARCH_TIMEOUT_MS = 0
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
