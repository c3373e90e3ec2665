"""A run against its baseline: gates, baseline specs, and GET /runs/{id}/compare."""

from __future__ import annotations

import pytest

from apps.core.errors import Invalid
from apps.projects.comparison import Baseline
from apps.runs.baseline import baseline_spec_parse
from apps.runs.comparison import MetricLine
from apps.runs.gates import Gate, gate_parse

pytestmark = pytest.mark.django_db


# -- gates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "gate"),
    [
        ("acc<-0.01", Gate("acc", "<", -0.01, False)),
        ("loss>+5%", Gate("loss", ">", 5.0, True)),
        (" eval/acc <= -1e-3 ", Gate("eval/acc", "<=", -0.001, False)),
        ("val.f1-macro>=.5%", Gate("val.f1-macro", ">=", 0.5, True)),
        ("loss>0", Gate("loss", ">", 0.0, False)),
    ],
)
def test_gate_expressions_parse(text, gate):
    assert gate_parse(text) == gate


def test_a_gate_prints_in_its_normal_form():
    assert gate_parse(" loss >5 % ").expression == "loss>+5%"


@pytest.mark.parametrize(
    "text", ["acc", "<-0.01", "acc<", "acc<abc", "acc=0.1", "acc<0.1%%", "acc<<0.1", ""]
)
def test_a_malformed_gate_is_refused_with_the_form(text):
    with pytest.raises(Invalid) as caught:
        gate_parse(text)
    assert caught.value.field == "fail_on"
    if text:
        assert caught.value.message == (
            f"fail_on {text!r} is not a gate: KEY OP CHANGE, e.g. 'eval/acc<-0.01' (fail when "
            "acc dropped by more than 0.01) or 'loss>+5%' (fail when loss rose by more than "
            "5%); OP is <, <=, > or >="
        )


def _check(gate: str, value, baseline):
    return gate_parse(gate).check(MetricLine("acc", value, baseline))


def test_a_drop_beyond_the_gate_is_a_violation():
    assert _check("acc<-0.01", 0.90, 0.92) == (
        True,
        "acc changed by -0.02, beyond the gate < -0.01",
    )


def test_a_drop_within_the_gate_passes():
    assert _check("acc<-0.01", 0.915, 0.92) == (
        False,
        "acc changed by -0.005, within the gate < -0.01",
    )


def test_a_percentage_gate_uses_the_relative_change():
    assert _check("acc>+5%", 1.06, 1.0) == (True, "acc changed by +6%, beyond the gate > +5%")


def test_no_baseline_value_passes_and_says_so():
    assert _check("acc<-0.01", 0.9, None) == (
        False,
        "acc: no baseline value to compare with",
    )


def test_a_gated_metric_the_run_did_not_log_is_a_violation():
    assert gate_parse("acc<-0.01").check(None) == (True, "acc was not logged by this run")


def test_a_nan_value_against_a_finite_baseline_is_a_violation():
    assert _check("acc<-0.01", float("nan"), 0.9) == (True, "acc is NaN (baseline 0.9)")


def test_a_percentage_against_a_zero_baseline_is_not_evaluated():
    assert _check("acc<-1%", 0.5, 0.0) == (
        False,
        "acc: not evaluated (the baseline is 0, so a percentage cannot be computed)",
    )


# -- baseline specs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "setting"),
    [
        ("branch:main", Baseline("branch", branch="main")),
        ("branch:release/2.0", Baseline("branch", branch="release/2.0")),
        ("run:" + "a" * 32, Baseline("pinned", run="a" * 32)),
        ("best:eval/acc:max", Baseline("best", metric="eval/acc", goal="max")),
        ("best:a:b:min", Baseline("best", metric="a:b", goal="min")),
        ("", None),
        ("project", None),
    ],
)
def test_baseline_specs_parse_to_settings(spec, setting):
    assert baseline_spec_parse(spec) == setting


@pytest.mark.parametrize(
    ("spec", "message", "field"),
    [
        (
            "main",
            "baseline 'main' must be branch:NAME, run:ID, best:METRIC:max or best:METRIC:min",
            "baseline",
        ),
        ("best:acc:up", "baseline.goal must be 'min' or 'max'", "baseline"),
        (
            "branch:",
            "baseline.branch must be a non-empty string of at most 250 characters",
            "baseline.branch",
        ),
    ],
)
def test_a_bad_baseline_spec_is_refused(spec, message, field):
    with pytest.raises(Invalid) as caught:
        baseline_spec_parse(spec)
    assert (caught.value.message, caught.value.field) == (message, field)


# -- the API -----------------------------------------------------------------------


def test_compare_answers_each_metric_against_the_branch_baseline(as_viewer, record_run):
    base = record_run("main-eval", {"eval/acc": 0.92, "eval/loss": 0.30, "system/cpu": 5.0})
    new = record_run("pr-eval", {"eval/acc": 0.90, "eval/loss": 0.33, "extra": 1.0}, branch="pr")
    answer = as_viewer.get(
        f"/api/v1/runs/{new}/compare",
        {"baseline": "branch:main", "fail_on": ["eval/acc<-0.01", "eval/loss>+20%"]},
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["baseline"]["id"] == base
    assert (body["baseline"]["branch"], body["baseline"]["commit"]) == ("main", "c0ffeemain-eval")
    assert body["baseline_spec"] == "branch:main"
    assert body["baseline_label"] == "latest finished run on main"
    assert body["compare_url"] == (
        f"http://127.0.0.1:8000/projects/vision/compare?runs={base}&runs={new}"
    )
    rows = {m["key"]: m for m in body["metrics"]}
    assert list(rows) == ["eval/acc", "eval/loss", "extra"]  # gated first; no system/
    assert rows["eval/acc"]["baseline"] == 0.92
    assert rows["eval/acc"]["value"] == 0.90
    assert rows["eval/acc"]["delta"] == pytest.approx(-0.02)
    assert rows["eval/acc"]["percent"] == pytest.approx(-2.1739, abs=1e-4)
    assert (rows["eval/acc"]["goal"], rows["eval/acc"]["better"]) == ("max", False)
    assert rows["eval/acc"]["violated"] is True
    assert (rows["eval/loss"]["goal"], rows["eval/loss"]["better"]) == ("min", False)
    assert rows["eval/loss"]["violated"] is False
    assert (rows["extra"]["baseline"], rows["extra"]["delta"]) == (None, None)
    assert [(g["expression"], g["violated"]) for g in body["gates"]] == [
        ("eval/acc<-0.01", True),
        ("eval/loss>+20%", False),
    ]
    assert body["regressed"] is True


def test_compare_without_a_baseline_run_passes_its_gates(as_viewer, record_run):
    new = record_run("pr-eval", {"acc": 0.5}, branch="pr")
    body = as_viewer.get(
        f"/api/v1/runs/{new}/compare", {"baseline": "branch:main", "fail_on": "acc<-0.01"}
    ).json()
    assert (body["baseline"], body["baseline_label"], body["compare_url"]) == (None, "", "")
    assert body["gates"] == [
        {
            "expression": "acc<-0.01",
            "metric": "acc",
            "violated": False,
            "reason": "acc: no baseline value to compare with",
        }
    ]
    assert body["regressed"] is False


def test_compare_defaults_to_the_project_baseline(as_admin, as_viewer, record_run):
    best = record_run("best", {"acc": 0.95}, branch="exp")
    record_run("latest-main", {"acc": 0.80})
    new = record_run("pr", {"acc": 0.90}, branch="pr")
    as_admin.patch(
        "/api/v1/projects/vision", {"baseline": {"mode": "best", "metric": "acc", "goal": "max"}}
    )
    body = as_viewer.get(f"/api/v1/runs/{new}/compare").json()
    assert body["baseline"]["id"] == best
    assert body["baseline_spec"] == "best:acc:max"


def test_compare_never_picks_the_run_itself(as_viewer, record_run):
    only = record_run("main-eval", {"acc": 0.9})
    body = as_viewer.get(f"/api/v1/runs/{only}/compare", {"baseline": "branch:main"}).json()
    assert body["baseline"] is None


def test_compare_sends_non_finite_values_as_strings(as_viewer, record_run):
    record_run("main-eval", {"loss": 0.3})
    new = record_run("pr", {"loss": "NaN"}, branch="pr")
    body = as_viewer.get(f"/api/v1/runs/{new}/compare", {"baseline": "branch:main"}).json()
    assert body["metrics"][0] == {
        "key": "loss",
        "value": "NaN",
        "baseline": 0.3,
        "delta": None,
        "percent": None,
        "goal": "min",
        "better": None,
        "violated": False,
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"baseline": "latest"}, "baseline"),
        ({"fail_on": "acc=1"}, "fail_on[0]"),
        ({"fail_on": ["acc<1"] * 51}, "fail_on"),
    ],
)
def test_compare_refuses_bad_queries_naming_the_field(as_viewer, run_id, query, field):
    answer = as_viewer.get(f"/api/v1/runs/{run_id}/compare", query)
    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == field


def test_compare_hides_the_run_from_outsiders(as_outsider, run_id):
    answer = as_outsider.get(f"/api/v1/runs/{run_id}/compare")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
