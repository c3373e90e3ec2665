"""A CI report is announced once, as ci.reported, against the job's own baseline."""

from __future__ import annotations

import pytest

from apps.notifications.models import Destination
from apps.notifications.report_builder import report_for
from apps.notifications.services.deliveries import delivery_attempt
from apps.runs.models import Run
from tests.notifications.helpers import dispatch_pending, rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def slack(project, fake_slack):
    destination = Destination(project=project, kind="slack", name="ml", target=fake_slack.channel)
    destination.set_credentials({"token": fake_slack.token})
    destination.save()
    return destination


@pytest.fixture
def reported(as_member, as_admin, record_run, slack, project, django_capture_on_commit_callbacks):
    """Rules on run.finished and ci.reported; a main baseline at 0.92, a better run on
    another branch (the project's own baseline), and a regressed CI run at 0.90."""
    rule(project, slack, "run.finished")
    rule(project, slack, "ci.reported")
    record_run("main-eval", {"eval/acc": 0.92}, branch="main")
    record_run("exp-best", {"eval/acc": 0.99}, branch="exp")
    as_admin.patch(
        "/api/v1/projects/vision",
        {"baseline": {"mode": "best", "metric": "eval/acc", "goal": "max"}},
    )
    dispatch_pending(django_capture_on_commit_callbacks)
    ci_run = record_run("pr-eval", {"eval/acc": 0.90}, branch="feature", finish=False)
    answer = as_member.post(
        f"/api/v1/runs/{ci_run}/ci-report",
        {"baseline": "branch:main", "fail_on": ["eval/acc<-0.01"]},
    )
    assert answer.status_code == 201
    return ci_run, dispatch_pending(django_capture_on_commit_callbacks)


def test_a_ci_run_gets_one_ci_message_and_no_run_finished_message(reported):
    _, deliveries = reported
    assert [d.event_type for d in deliveries] == ["ci.reported"]


def test_the_ci_message_compares_with_the_jobs_baseline(reported):
    ci_run, deliveries = reported
    message = report_for(deliveries[0])
    assert message.title == "CI regression"
    assert message.baseline.name == "main-eval"  # the job's branch:main, not the project's best
    assert message.baseline_label == "latest finished run on main"
    assert [(m.key, m.value, m.baseline) for m in message.metrics] == [("eval/acc", 0.90, 0.92)]
    assert message.detail == (
        "Regression against the latest finished run on main.\n"
        "✗ eval/acc changed by -0.02, beyond the gate < -0.01"
    )
    assert message.run.public_id == ci_run


def test_the_ci_message_reaches_slack(reported, fake_slack):
    _, deliveries = reported
    assert delivery_attempt(delivery_id=deliveries[0].pk) == "sent"
    [posted] = fake_slack.messages
    assert posted["blocks"][0]["text"]["text"] == "🧪 CI regression"
    sections = [b["text"]["text"] for b in posted["blocks"] if b["type"] == "section"]
    # Slack's mrkdwn escapes "<" as "&lt;".
    assert (
        "*CI report:*\nRegression against the latest finished run on main.\n"
        "✗ eval/acc changed by -0.02, beyond the gate &lt; -0.01"
    ) in sections


def test_a_run_ended_without_a_report_still_announces_its_end(record_run, slack, project, capture):
    rule(project, slack, "run.finished")
    record_run("plain", {"eval/acc": 0.5}, branch="main")
    assert [d.event_type for d in dispatch_pending(capture)] == ["run.finished"]
    assert Run.objects.get(name="plain").status == "FINISHED"


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks
