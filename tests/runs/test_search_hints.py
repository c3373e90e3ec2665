"""The runs listing's ``hints``: when a filter matches nothing, the keys it names that no
run of the project has, with the closest existing keys; and the bounded key reads
behind them and behind the runs table's default columns (apps.runs.keys)."""

from __future__ import annotations

import pytest

from apps.runs import keys
from apps.runs.columns import Columns
from apps.runs.keys import filter_key_replaced, result_set_keys
from apps.runs.models import Run
from apps.runs.search import parse_filter
from tests.portal.runs_table_helpers import seed

URL = "/api/v1/projects/vision/runs"


@pytest.mark.django_db
def test_an_empty_answer_names_the_key_no_run_has(as_viewer, project):
    seed(project, "a", metrics={"eval/acc": 0.9, "train/accuracy": 0.8})
    response = as_viewer.get(URL, {"filter": "status = 'FINISHED' and metrics.eval/accuracy > 0.5"})
    assert response.status_code == 200
    assert response.json() == {
        "results": [],
        "next": None,
        "hints": [
            {
                "code": "unknown_key",
                "field": "filter",
                "message": "no run in this project has metric `eval/accuracy`",
                "kind": "metric",
                "key": "eval/accuracy",
                "column": 25,
                "closest": ["metrics.eval/acc", "metrics.train/accuracy"],
            }
        ],
    }


@pytest.mark.django_db
def test_an_empty_answer_whose_keys_exist_has_empty_hints(as_viewer, project):
    seed(project, "a", metrics={"acc": 0.2})
    body = as_viewer.get(URL, {"filter": "metrics.acc > 0.5"}).json()
    assert body == {"results": [], "next": None, "hints": []}


@pytest.mark.django_db
def test_an_answer_with_runs_or_without_a_filter_has_no_hints(as_viewer, project):
    seed(project, "a", metrics={"acc": 0.9})
    assert "hints" not in as_viewer.get(URL, {"filter": "metrics.acc > 0.5"}).json()
    assert "hints" not in as_viewer.get(URL).json()


@pytest.mark.django_db
def test_a_key_with_other_characters_is_suggested_quoted(as_viewer, project):
    seed(project, "a", params={"learning rate": "0.1"})
    (hint,) = as_viewer.get(URL, {"filter": "params.`learning rates` = '1'"}).json()["hints"]
    assert hint["closest"] == ["params.`learning rate`"]


def test_a_suggested_key_replaces_the_one_at_its_column():
    text = "metrics.acc > 0.5 and metrics.`eval acc` < 1"
    assert filter_key_replaced(text, column=23, label="metrics.eval/acc") == (
        "metrics.acc > 0.5 and metrics.eval/acc < 1"
    )


@pytest.mark.django_db
def test_the_sample_ranks_metrics_by_runs_and_varying_params_first(project):
    seed(project, "a", metrics={"acc": 1, "loss": 1}, params={"lr": "1", "fixed": "x"})
    seed(project, "b", metrics={"acc": 1}, params={"lr": "2", "fixed": "x"})
    seed(project, "c", metrics={"acc": 1, "f1": 1}, params={"lr": "3", "fixed": "x", "warm": "1"})
    found = result_set_keys(runs=Run.objects.filter(project=project))
    assert found.runs == 3
    assert [(k.key, k.runs) for k in found.metrics] == [("acc", 3), ("f1", 1), ("loss", 1)]
    # lr (three values) and warm (one run lacks it) vary; fixed does not.
    assert [(k.key, k.runs, k.values) for k in found.params] == [
        ("lr", 3, 3),
        ("warm", 1, 1),
        ("fixed", 3, 1),
    ]
    assert [found.varies(k) for k in found.params] == [True, True, False]
    assert (found.metric_keys, found.param_keys) == (3, 3)


@pytest.mark.django_db
def test_the_sample_answers_the_ranked_keys_and_those_asked_for(project, monkeypatch):
    monkeypatch.setattr(keys, "RANKED_KEYS", 2)
    seed(project, "a", metrics={"a": 1, "b": 1, "c": 1, "d": 1})
    seed(project, "b", metrics={"a": 1, "b": 1})
    found = result_set_keys(
        runs=Run.objects.filter(project=project), include=Columns(metrics=["d", "zzz"])
    )
    assert [k.key for k in found.metrics] == ["a", "b", "d"]
    assert found.metric_keys == 4
    assert found.hidden(Columns(metrics=["a", "d", "zzz"])) == 2  # b and c


@pytest.mark.django_db
def test_the_sample_reads_at_most_sample_rows_per_kind(project, monkeypatch):
    monkeypatch.setattr(keys, "SAMPLE_ROWS", 5)
    seed(project, "a", metrics={f"m{i}": 1 for i in range(4)})
    seed(project, "b", metrics={f"m{i}": 1 for i in range(4)})
    found = result_set_keys(runs=Run.objects.filter(project=project))
    assert sum(k.runs for k in found.metrics) == 5


@pytest.mark.django_db
def test_a_filter_tree_names_its_keys_in_order(project):
    node = parse_filter("metrics.b > 1 and (params.x = 'y' or not metrics.a < 2) and tags.t = 'v'")
    named = keys.named_columns(filter=node)
    assert (named.metrics, named.params, named.tags) == (["b", "a"], ["x"], ["t"])
