"""From domain events to deliveries: which rules fire, once, for which runs."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.events.models import DomainEvent
from apps.events.services import event_dispatch
from apps.notifications.models import Delivery, DeliveryStatus
from apps.runs.models import Run
from tests.conftest import points
from tests.notifications.helpers import dispatch_pending, rule, slack_destination

pytestmark = pytest.mark.django_db


@pytest.fixture
def slack(project):
    return slack_destination(project)


def log(client, run_id, *metrics, params=None, tags=None):
    body = {"batch_id": uuid.uuid4().hex, "metrics": [p for batch in metrics for p in batch]}
    if params:
        body["params"] = params
    if tags:
        body["tags"] = tags
    response = client.post(f"/api/v1/runs/{run_id}/log", body)
    assert response.status_code == 200, response.json()


def finish(client, run_id, status="finished"):
    response = client.post(f"/api/v1/runs/{run_id}/finish", {"status": status})
    assert response.status_code == 200, response.json()


def test_a_finished_run_gives_one_delivery_per_matching_rule(
    project, slack, as_member, run_id, django_capture_on_commit_callbacks
):
    on_finish = rule(project, slack, "run.finished")
    rule(project, slack, "run.crashed")
    finish(as_member, run_id)

    deliveries = dispatch_pending(django_capture_on_commit_callbacks)

    run_pk = Run.objects.get(public_id=run_id).pk
    assert [(d.rule_id, d.event_type, d.run_id, d.status) for d in deliveries] == [
        (on_finish.pk, "run.finished", run_pk, DeliveryStatus.PENDING)
    ]


def test_each_end_status_fires_its_own_rule(
    project, slack, as_member, make_run, django_capture_on_commit_callbacks
):
    rules = {status: rule(project, slack, f"run.{status}") for status in ("failed", "killed")}
    failed, killed = make_run(name="a"), make_run(name="b")
    finish(as_member, failed, "failed")
    finish(as_member, killed, "killed")

    deliveries = dispatch_pending(django_capture_on_commit_callbacks)

    assert sorted((d.rule_id, d.event_type) for d in deliveries) == sorted(
        [(rules["failed"].pk, "run.failed"), (rules["killed"].pk, "run.killed")]
    )


def test_a_crash_detected_by_the_sweeper_fires_crash_rules(
    project, slack, run_id, django_capture_on_commit_callbacks
):
    from apps.runs.services import run_mark_stale_crashed

    on_crash = rule(project, slack, "run.crashed")
    Run.objects.filter(public_id=run_id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=False):
        assert run_mark_stale_crashed() == 1

    deliveries = dispatch_pending(django_capture_on_commit_callbacks)

    assert [(d.rule_id, d.event_type) for d in deliveries] == [(on_crash.pk, "run.crashed")]


def test_redispatching_an_event_adds_no_second_delivery(
    project, slack, as_member, run_id, django_capture_on_commit_callbacks
):
    rule(project, slack, "run.finished")
    finish(as_member, run_id)
    first = dispatch_pending(django_capture_on_commit_callbacks)
    event = DomainEvent.objects.get(type="run.finished")
    DomainEvent.objects.filter(pk=event.pk).update(dispatched_at=None)

    with django_capture_on_commit_callbacks(execute=False):
        assert event_dispatch(event_id=event.pk) is True

    assert list(Delivery.objects.values_list("pk", flat=True)) == [first[0].pk]


def test_disabled_rules_and_other_projects_rules_do_not_fire(
    project, other_project, slack, as_member, run_id, django_capture_on_commit_callbacks
):
    rule(project, slack, "run.finished", enabled=False)
    elsewhere = slack_destination(other_project)
    rule(other_project, elsewhere, "run.finished")
    finish(as_member, run_id)

    assert dispatch_pending(django_capture_on_commit_callbacks) == []


@pytest.mark.parametrize(
    ("filters", "fires"),
    [
        ({"tags": {"team": "perception"}}, True),
        ({"tags": {"team": "speech"}}, False),
        ({"name": "resnet*"}, True),
        ({"name": "vit*"}, False),
        ({"branch": "main"}, True),
        ({"branch": "feature/*"}, False),
        ({"author": "bob_member"}, True),
        ({"author": "someone_else"}, False),
        ({"tags": {"team": "perception"}, "name": "resnet*", "branch": "main"}, True),
    ],
)
def test_filters_on_tag_name_branch_and_author(
    project, slack, as_member, make_run, filters, fires, django_capture_on_commit_callbacks
):
    rule(project, slack, "run.finished", filters=filters)
    run_id = make_run(name="resnet50", tags={"team": "perception"}, git={"branch": "main"})
    finish(as_member, run_id)

    deliveries = dispatch_pending(django_capture_on_commit_callbacks)

    assert len(deliveries) == (1 if fires else 0)


def test_a_threshold_fires_once_per_run_when_crossed(
    project, slack, as_member, run_id, django_capture_on_commit_callbacks, settings
):
    settings.KIROKU_METRICS_EVENT_INTERVAL_SECONDS = 1
    low_loss = rule(
        project,
        slack,
        "metric.threshold",
        condition={"metric": "val/loss", "op": "<", "value": 0.3},
    )
    log(as_member, run_id, points("val/loss", [0], lambda s: 0.9))
    assert dispatch_pending(django_capture_on_commit_callbacks) == []

    Run.objects.filter(public_id=run_id).update(metrics_event_at=None)
    log(as_member, run_id, points("val/loss", [1], lambda s: 0.25))
    crossed = dispatch_pending(django_capture_on_commit_callbacks)
    Run.objects.filter(public_id=run_id).update(metrics_event_at=None)
    log(as_member, run_id, points("val/loss", [2], lambda s: 0.2))
    finish(as_member, run_id)
    again = dispatch_pending(django_capture_on_commit_callbacks)

    assert [(d.rule_id, d.payload) for d in crossed] == [
        (
            low_loss.pk,
            {"metric": "val/loss", "op": "<", "threshold": 0.3, "value": 0.25, "step": 1},
        )
    ]
    assert again == []


def test_a_threshold_crossed_by_the_last_points_fires_when_the_run_ends(
    project, slack, as_member, run_id, django_capture_on_commit_callbacks
):
    rule(project, slack, "metric.threshold", condition={"metric": "acc", "op": ">=", "value": 0.9})
    log(as_member, run_id, points("acc", [0], lambda s: 0.5))
    dispatch_pending(django_capture_on_commit_callbacks)
    # Within the coalescing interval: this batch announces nothing by itself.
    log(as_member, run_id, points("acc", [1], lambda s: 0.95))
    assert DomainEvent.objects.filter(type="run.metrics_updated", dispatched_at=None).count() == 0
    finish(as_member, run_id)

    deliveries = dispatch_pending(django_capture_on_commit_callbacks)

    assert [d.payload["value"] for d in deliveries] == [0.95]


def test_new_best_fires_only_when_a_finished_run_beats_every_other(
    project, slack, as_member, make_run, django_capture_on_commit_callbacks
):
    rule(project, slack, "run.new_best", condition={"metric": "val/acc", "goal": "max"})
    values = {"first": 0.80, "better": 0.85, "worse": 0.82, "tie": 0.85}
    fired = {}
    for name, value in values.items():
        run_id = make_run(name=name)
        log(as_member, run_id, points("val/acc", [0], lambda s, v=value: v))
        finish(as_member, run_id)
        fired[name] = [d.payload for d in dispatch_pending(django_capture_on_commit_callbacks)]

    assert fired["first"] == []  # nothing to beat yet
    assert [(p["value"], p["previous"]) for p in fired["better"]] == [(0.85, 0.80)]
    assert fired["worse"] == []
    assert fired["tie"] == []


def test_cooldown_keeps_a_rule_quiet_after_it_fired(
    project, slack, as_member, make_run, django_capture_on_commit_callbacks
):
    rule(project, slack, "run.failed", cooldown_seconds=3600)
    for name in ("a", "b"):
        finish(as_member, make_run(name=name), "failed")

    deliveries = dispatch_pending(django_capture_on_commit_callbacks)

    assert len(deliveries) == 1


def test_a_mention_fires_mention_rules_with_the_excerpt(
    project, slack, api_as, viewer, run_id, django_capture_on_commit_callbacks
):
    mention = rule(project, slack, "comment.mention")
    body = "@carol_viewer look at the val curve <!channel>"
    response = api_as(viewer).post(f"/api/v1/runs/{run_id}/comments", {"body": body})
    assert response.status_code == 201, response.json()

    deliveries = dispatch_pending(django_capture_on_commit_callbacks)

    assert [(d.rule_id, d.payload["mentioned"], d.payload["excerpt"]) for d in deliveries] == [
        (mention.pk, ["carol_viewer"], body)
    ]


def test_a_deleted_run_fires_nothing(
    project, slack, as_member, as_admin, run_id, django_capture_on_commit_callbacks
):
    rule(project, slack, "run.finished")
    finish(as_member, run_id)
    as_admin.delete(f"/api/v1/runs/{run_id}")

    assert dispatch_pending(django_capture_on_commit_callbacks) == []
