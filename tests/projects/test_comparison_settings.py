"""A project's comparison settings in PATCH /projects/{slug}: the baseline (best run by
a metric, latest run on a branch, or a pinned run) and the primary metrics. Checked,
audited as settings.update, admins only."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.projects.models import Project
from apps.runs.models import Run

URL = "/api/v1/projects/vision"


def events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="settings.update").order_by("pk"))


@pytest.fixture
def run(project, member) -> Run:
    return Run.objects.create(project=project, name="resnet", author=member)


@pytest.mark.parametrize(
    ("baseline", "stored"),
    [
        (
            {"mode": "best", "metric": " val/acc ", "goal": "min"},
            {"mode": "best", "metric": "val/acc", "goal": "min"},
        ),
        (
            {"mode": "best", "metric": "val/acc"},
            {"mode": "best", "metric": "val/acc", "goal": "max"},
        ),
        ({"mode": "branch", "branch": "main"}, {"mode": "branch", "branch": "main"}),
        (None, {}),
    ],
)
def test_the_admin_sets_a_baseline(as_admin, project, baseline, stored):
    Project.objects.filter(pk=project.pk).update(baseline={"mode": "branch", "branch": "dev"})
    response = as_admin.patch(URL, {"baseline": baseline})
    assert response.status_code == 200
    assert response.json()["baseline"] == stored
    project.refresh_from_db()
    assert project.baseline == stored


def test_a_pinned_run_of_this_project(as_admin, project, run):
    response = as_admin.patch(URL, {"baseline": {"mode": "pinned", "run": run.public_id}})
    assert response.status_code == 200
    assert response.json()["baseline"] == {"mode": "pinned", "run": run.public_id}
    project.refresh_from_db()
    assert project.baseline == {"mode": "pinned", "run": run.public_id}


def test_primary_metrics_are_kept_in_order_without_repeats(as_admin, project):
    response = as_admin.patch(URL, {"primary_metrics": ["val/acc", "val/loss", "val/acc"]})
    assert response.status_code == 200
    assert response.json()["primary_metrics"] == ["val/acc", "val/loss"]
    project.refresh_from_db()
    assert project.primary_metrics == ["val/acc", "val/loss"]


def test_the_change_is_audited_with_before_and_after(as_admin, project):
    as_admin.patch(
        URL,
        {
            "baseline": {"mode": "best", "metric": "val/acc", "goal": "max"},
            "primary_metrics": ["val/acc"],
        },
    )
    [event] = events()
    assert event.metadata == {
        "before": {"baseline": {}, "primary_metrics": []},
        "after": {
            "baseline": {"mode": "best", "metric": "val/acc", "goal": "max"},
            "primary_metrics": ["val/acc"],
        },
    }


def _refused(response, field: str) -> str:
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid", field)
    return error["message"]


@pytest.mark.parametrize(
    ("baseline", "message"),
    [
        ({"mode": "latest"}, "baseline.mode must be one of: best, branch, pinned"),
        ("best", "baseline must be an object with a 'mode' or null"),
        (
            {"mode": "best", "goal": "max"},
            "baseline.metric must be a non-empty string of at most 250 characters",
        ),
        ({"mode": "best", "metric": "acc", "goal": "up"}, "baseline.goal must be 'min' or 'max'"),
        (
            {"mode": "branch", "branch": "main", "run": "x"},
            "baseline with mode 'branch' does not take: run",
        ),
    ],
)
def test_a_bad_baseline_is_a_400_naming_it(as_admin, project, baseline, message):
    field = "baseline.metric" if message.startswith("baseline.metric") else "baseline"
    assert _refused(as_admin.patch(URL, {"baseline": baseline}), field) == message
    project.refresh_from_db()
    assert project.baseline == {}
    assert events() == []


def test_a_pinned_run_of_another_project_is_refused(as_admin, project, other_project, member):
    theirs = Run.objects.create(project=other_project, name="theirs", author=member)
    response = as_admin.patch(URL, {"baseline": {"mode": "pinned", "run": theirs.public_id}})
    assert _refused(response, "baseline") == "baseline.run must be a run of this project"
    assert events() == []


def test_eleven_primary_metrics_are_refused(as_admin, project):
    response = as_admin.patch(URL, {"primary_metrics": [f"m{i}" for i in range(11)]})
    assert _refused(response, "primary_metrics") == "primary_metrics takes at most 10 metric keys"
    project.refresh_from_db()
    assert project.primary_metrics == []


def test_a_viewer_cannot_change_them(as_viewer, project):
    response = as_viewer.patch(URL, {"primary_metrics": ["val/acc"]})
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "this needs the admin role in project 'vision'"
    project.refresh_from_db()
    assert project.primary_metrics == []
    assert events() == []


def test_the_project_answer_carries_them(as_viewer, project):
    Project.objects.filter(pk=project.pk).update(
        baseline={"mode": "branch", "branch": "main"}, primary_metrics=["val/acc"]
    )
    body = as_viewer.get(URL).json()
    assert (body["baseline"], body["primary_metrics"]) == (
        {"mode": "branch", "branch": "main"},
        ["val/acc"],
    )
