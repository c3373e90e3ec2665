"""POST/GET /runs/{id}/ci-report: the CI job's verdict, stored once on its run."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.ci.models import CiReport
from apps.events.models import DomainEvent
from apps.runs.models import Run

pytestmark = pytest.mark.django_db

JUNIT = {
    "tests": 10,
    "passed": 8,
    "failures": 1,
    "errors": 0,
    "skipped": 1,
    "failed_total": 1,
    "time": 3.5,
    "failed": ["tests.test_eval.test_accuracy"],
}


@pytest.fixture
def ci_run(record_run):
    """A main-branch baseline at acc 0.92 and a running PR run at 0.90."""
    record_run("main-eval", {"acc": 0.92})
    return record_run("pr-eval", {"acc": 0.90}, branch="feature", finish=False)


def report(client, run_id, **body):
    return client.post(f"/api/v1/runs/{run_id}/ci-report", body)


def test_a_report_ends_the_running_run_and_stores_the_servers_verdict(as_member, ci_run):
    answer = report(as_member, ci_run, baseline="branch:main", fail_on=["acc<-0.01"], junit=JUNIT)
    assert answer.status_code == 201
    body = answer.json()
    assert (body["run"], body["status"], body["verdict"], body["regressed"]) == (
        ci_run,
        "FINISHED",
        "regressed",
        True,
    )
    assert (body["baseline"], body["fail_on"], body["junit"]) == (
        "branch:main",
        ["acc<-0.01"],
        JUNIT,
    )
    assert body["comparison"]["gates"][0]["reason"] == (
        "acc changed by -0.02, beyond the gate < -0.01"
    )
    stored = CiReport.objects.get(run__public_id=ci_run)
    assert stored.baseline_run.name == "main-eval"
    assert Run.objects.get(public_id=ci_run).status == "FINISHED"


def test_the_run_end_is_marked_as_announced_by_the_report(as_member, ci_run):
    report(as_member, ci_run, baseline="branch:main")
    run = Run.objects.get(public_id=ci_run)
    events = DomainEvent.objects.filter(run_id=run.pk).order_by("pk")
    finished, reported = events.get(type="run.finished"), events.get(type="ci.reported")
    assert finished.payload["ci_report"] is True
    assert reported.payload == {
        "run_id": ci_run,
        "name": "pr-eval",
        "project": "vision",
        "status": "FINISHED",
        "verdict": "passed",
        "summary": "Passed against the latest finished run on main.",
        "baseline_run": Run.objects.get(name="main-eval").public_id,
        "baseline_label": "latest finished run on main",
        "metrics": ["acc"],
    }


def test_a_report_with_status_failed_ends_the_run_as_failed(as_member, ci_run):
    assert report(as_member, ci_run, status="failed").json()["status"] == "FAILED"


def test_a_run_that_already_ended_keeps_its_status_and_its_own_end_event(as_member, record_run):
    ended = record_run("done", {"acc": 0.5})
    assert report(as_member, ended, status="failed").status_code == 201
    run = Run.objects.get(public_id=ended)
    assert run.status == "FINISHED"
    finished = DomainEvent.objects.get(run_id=run.pk, type="run.finished")
    assert "ci_report" not in finished.payload


def test_the_same_report_again_answers_200_and_announces_nothing_new(as_member, ci_run):
    first = report(as_member, ci_run, baseline="branch:main", fail_on=["acc<-0.01"], junit=JUNIT)
    again = report(as_member, ci_run, baseline="branch:main", fail_on=["acc<-0.01"], junit=JUNIT)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    run = Run.objects.get(public_id=ci_run)
    assert DomainEvent.objects.filter(run_id=run.pk, type="ci.reported").count() == 1
    assert AuditEvent.objects.filter(action="run.ci_report", target_id=ci_run).count() == 1


def test_a_different_report_for_a_reported_run_is_a_conflict(as_member, ci_run):
    report(as_member, ci_run, baseline="branch:main")
    answer = report(as_member, ci_run, baseline="branch:develop")
    assert answer.status_code == 409
    assert answer.json()["error"] == {
        "code": "conflict",
        "message": "this run already has a CI report; a new CI job records a new run",
        "field": "run",
    }


def test_a_report_is_audited_with_its_verdict(as_member, ci_run):
    report(as_member, ci_run, baseline="branch:main", fail_on=["acc<-0.01"])
    event = AuditEvent.objects.get(action="run.ci_report")
    assert (event.target_id, event.metadata) == (
        ci_run,
        {"verdict": "regressed", "baseline": "branch:main"},
    )


def test_without_a_baseline_the_verdict_says_so(as_member, record_run):
    lone = record_run("lone", {"acc": 0.5}, branch="feature", finish=False)
    body = report(as_member, lone, baseline="branch:main", fail_on=["acc<-0.01"]).json()
    assert (body["verdict"], body["regressed"]) == ("no_baseline", False)
    event = DomainEvent.objects.get(type="ci.reported")
    assert event.payload["summary"] == "No baseline to compare with (branch:main)."


def test_viewers_read_the_report(as_member, as_viewer, ci_run):
    report(as_member, ci_run, junit=JUNIT)
    answer = as_viewer.get(f"/api/v1/runs/{ci_run}/ci-report")
    assert answer.status_code == 200
    assert answer.json()["junit"] == JUNIT


def test_a_run_without_a_report_answers_404(as_viewer, ci_run):
    answer = as_viewer.get(f"/api/v1/runs/{ci_run}/ci-report")
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == "this run has no CI report"


def test_viewers_may_not_report(as_viewer, ci_run):
    assert report(as_viewer, ci_run).status_code == 403
    assert not CiReport.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_outsiders_learn_nothing(as_outsider, ci_run, method):
    answer = getattr(as_outsider, method)(f"/api/v1/runs/{ci_run}/ci-report", {})
    assert answer.status_code == 404
    assert not CiReport.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"verdict": "ok"},
            "verdict",
            "unknown field 'verdict'; allowed: baseline, fail_on, junit, status",
        ),
        ({"status": "killed"}, "status", "status must be 'finished' or 'failed'"),
        ({"fail_on": "acc<1"}, "fail_on", "fail_on must be a list of gate expressions"),
        (
            {"baseline": "main"},
            "baseline",
            "baseline 'main' must be branch:NAME, run:ID, best:METRIC:max or best:METRIC:min",
        ),
        (
            {"junit": {"tests": -1}},
            "junit.tests",
            "junit.tests must be a whole number from 0 to 2147483647",
        ),
        ({"junit": {"time": "NaN"}}, "junit.time", "junit.time must be a number of seconds"),
        (
            {"junit": {"failed": ["x"] * 51}},
            "junit.failed",
            "junit.failed must be a list of at most 50 test names",
        ),
        (
            {"junit": {"failed": ["x" * 501]}},
            "junit.failed",
            "junit.failed holds test names of 1 to 500 characters",
        ),
        ({"junit": {"colour": 1}}, "junit.colour", "junit does not take: colour"),
        # Issue 15: a status of another JSON type was a 500 (a list is unhashable).
        ({"status": []}, "status", "status must be 'finished' or 'failed'"),
        ({"status": {}}, "status", "status must be 'finished' or 'failed'"),
        ({"status": 1}, "status", "status must be 'finished' or 'failed'"),
        (
            {"baseline": ["branch:main"]},
            "baseline",
            "baseline must be a string of at most 300 characters",
        ),
        (
            {"junit": {"time": 10**400}},
            "junit.time",
            "junit.time must be a finite number ≥ 0",
        ),
    ],
)
def test_a_bad_report_is_refused_and_changes_nothing(as_member, ci_run, body, field, message):
    answer = report(as_member, ci_run, **body)
    assert answer.status_code == 400
    assert answer.json()["error"] == {"code": "invalid", "message": message, "field": field}
    assert not CiReport.objects.exists()
    assert Run.objects.get(public_id=ci_run).status == "RUNNING"
