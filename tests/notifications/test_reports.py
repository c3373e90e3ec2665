"""What a message says: the run, its key metrics against the baseline, the params that
changed and the links — the same Report for Slack and Notion."""

from __future__ import annotations

import uuid

import pytest

from apps.notifications.models import Delivery
from apps.notifications.report_builder import report_for
from apps.notifications.report_content import MetricLine, ParamChange, format_delta, format_number
from apps.projects.models import Project
from apps.runs.models import Run
from tests.conftest import points
from tests.notifications.helpers import rule, slack_destination

pytestmark = pytest.mark.django_db


@pytest.fixture
def record(as_member, make_run):
    """Create a finished (or running) run with metrics, params and a branch."""

    def build(name, metrics, *, params=None, branch="main", status="finished") -> Run:
        run_id = make_run(name=name, git={"branch": branch, "commit": "0123456789abcdef"})
        body = {"batch_id": uuid.uuid4().hex, "params": params or {}, "metrics": []}
        for key, value in metrics.items():
            body["metrics"] += points(key, [0], lambda s, v=value: v)
        assert as_member.post(f"/api/v1/runs/{run_id}/log", body).status_code == 200
        if status:
            as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": status})
        return Run.objects.get(public_id=run_id)

    return build


def delivery_for(project, run, event="run.finished", condition=None, payload=None):
    destination = slack_destination(project)
    on = rule(project, destination, event, condition=condition or {})
    return Delivery.objects.create(
        project=project,
        rule=on,
        destination=destination,
        event_type=event,
        run_id=run.pk,
        payload=payload or {},
        idempotency_key=f"{on.pk}:{run.pk}",
    )


def test_best_run_baseline_gives_values_deltas_and_changed_params(project, record, settings):
    settings.KIROKU_BASE_URL = "https://kiroku.example"
    best = record("best", {"val/acc": 0.80, "val/loss": 0.50}, params={"lr": "0.1", "bs": "64"})
    record("weaker", {"val/acc": 0.70, "val/loss": 0.60})
    run = record("new", {"val/acc": 0.84, "val/loss": 0.40}, params={"lr": "0.03", "bs": "64"})
    Project.objects.filter(pk=project.pk).update(
        baseline={"mode": "best", "metric": "val/acc", "goal": "max"},
        primary_metrics=["val/acc", "val/loss"],
    )
    project.refresh_from_db()

    report = report_for(delivery_for(project, run))

    assert report.run.url == f"https://kiroku.example/projects/vision/runs/{run.public_id}"
    assert report.baseline.public_id == best.public_id
    assert report.baseline_label == "best run by val/acc (max)"
    assert report.metrics == (
        MetricLine("val/acc", 0.84, 0.80, "max"),
        MetricLine("val/loss", 0.40, 0.50, "min"),
    )
    assert [line.better for line in report.metrics] == [True, True]
    assert report.param_changes == (ParamChange("lr", "0.03", "0.1"),)
    assert report.compare_url == (
        f"https://kiroku.example/projects/vision/compare?runs={best.public_id}&runs={run.public_id}"
    )
    assert (report.status, report.branch, report.commit, report.author) == (
        "FINISHED",
        "main",
        "01234567",
        "bob_member",
    )


def test_branch_baseline_is_the_latest_finished_run_on_that_branch(project, record):
    record("old-main", {"acc": 0.5})
    latest = record("new-main", {"acc": 0.6})
    record("feature", {"acc": 0.9}, branch="feature/x")
    record("running-main", {"acc": 0.99}, status=None)
    run = record("pr", {"acc": 0.7}, branch="feature/y")
    Project.objects.filter(pk=project.pk).update(baseline={"mode": "branch", "branch": "main"})
    project.refresh_from_db()

    report = report_for(delivery_for(project, run))

    assert (report.baseline.public_id, report.baseline_label) == (
        latest.public_id,
        "latest finished run on main",
    )


def test_pinned_baseline(project, record):
    pinned = record("reference", {"acc": 0.5})
    record("other", {"acc": 0.9})
    run = record("new", {"acc": 0.7})
    Project.objects.filter(pk=project.pk).update(
        baseline={"mode": "pinned", "run": pinned.public_id}
    )
    project.refresh_from_db()

    assert report_for(delivery_for(project, run)).baseline.public_id == pinned.public_id


def test_without_a_baseline_the_first_logged_metrics_are_shown_without_deltas(project, record):
    metrics = {f"m{i}": float(i) for i in range(8)}
    run = record("solo", metrics)

    report = report_for(delivery_for(project, run))

    assert report.baseline is None
    assert report.compare_url == ""
    assert [(m.key, m.value, m.delta) for m in report.metrics] == [
        (f"m{i}", float(i), None) for i in range(5)
    ]


def test_a_rules_metric_comes_first(project, record):
    run = record("r", {"a": 1.0, "val/loss": 0.2})
    Project.objects.filter(pk=project.pk).update(primary_metrics=["a"])
    project.refresh_from_db()
    condition = {"metric": "val/loss", "op": "<", "value": 0.3}
    payload = {"metric": "val/loss", "op": "<", "threshold": 0.3, "value": 0.2, "step": 0}

    report = report_for(delivery_for(project, run, "metric.threshold", condition, payload))

    assert [m.key for m in report.metrics] == ["val/loss", "a"]
    assert report.title == "val/loss < 0.3 (now 0.2)"


@pytest.mark.parametrize(
    ("line", "text"),
    [
        (MetricLine("acc", 0.84, 0.80), "+0.04 (+5.0%) ▲"),
        (MetricLine("loss", 0.4, 0.5), "\u22120.1 (\u221220.0%) ▼"),
        (MetricLine("x", 1.0, 0.0), "+1 ▲"),
        (MetricLine("x", 1.0, 1.0), "±0 (0%) ="),
        (MetricLine("x", 1.0, None), ""),
        (MetricLine("x", float("nan"), 1.0), ""),
    ],
)
def test_delta_text(line, text):
    assert format_delta(line) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
        (0.123456789, "0.123457"),
        (12345678.0, "1.2346e+07"),
        (0.00001234, "1.2340e-05"),
    ],
)
def test_number_text(value, text):
    assert format_number(value) == text
