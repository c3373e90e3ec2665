"""Model registry events as notifications: rules on them, one delivery per event, and
the message comparing the new version's run with the run of the version it replaces."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.events.models import DomainEvent
from apps.events.services import event_dispatch
from apps.notifications.models import Delivery, Rule
from apps.notifications.report_builder import report_for
from apps.notifications.report_content import ModelRef
from apps.notifications.services.deliveries import delivery_attempt
from apps.registry.models import RegisteredModel
from apps.runs.models import MetricSummary, Run
from tests.notifications.helpers import dispatch_pending, rule, slack_destination
from tests.registry.helpers import artifact, as_user, decide, move, register, request_promotion

pytestmark = pytest.mark.django_db


def trained(project, member, name: str, acc: float) -> Run:
    """A finished run with a ``model/`` folder and its last val/acc."""
    run = Run.objects.create(project=project, name=name, author=member, status="finished")
    artifact(run, "model/weights.pt", name.encode())
    MetricSummary.objects.create(
        run=run,
        key="val/acc",
        last=acc,
        last_step=10,
        min=acc,
        max=acc,
        count=1,
        last_timestamp=timezone.now(),
    )
    return run


@pytest.fixture
def runs(project, member):
    project.primary_metrics = ["val/acc"]
    project.save(update_fields=["primary_metrics"])
    return trained(project, member, "resnet-a", 0.75), trained(project, member, "resnet-b", 0.78)


@pytest.fixture
def slack(project):
    return slack_destination(project)


def test_a_rule_on_alias_moved_gives_one_delivery_per_move(
    project, member, runs, slack, django_capture_on_commit_callbacks
):
    on_move = rule(project, slack, "model.alias_moved")
    register(as_user(member), project, runs[0], aliases=["staging"])
    register(as_user(member), project, runs[1])
    model = RegisteredModel.objects.get(project=project, name="resnet")
    move(as_user(member), model, "staging", 2)
    move(as_user(member), model, "staging", 2)  # already there: no move, no event

    deliveries = dispatch_pending(django_capture_on_commit_callbacks)

    assert [
        (d.rule_id, d.event_type, d.payload["version"], d.payload["previous_version"])
        for d in deliveries
    ] == [(on_move.pk, "model.alias_moved", 1, None), (on_move.pk, "model.alias_moved", 2, 1)]
    # Dispatched again (a retried subscriber), an event adds no second delivery.
    for event in DomainEvent.objects.filter(type="model.alias_moved"):
        DomainEvent.objects.filter(pk=event.pk).update(dispatched_at=None)
        with django_capture_on_commit_callbacks(execute=False):
            event_dispatch(event_id=event.pk)
    assert Delivery.objects.count() == 2


def test_an_approved_promotion_tells_of_the_request_the_decision_and_the_move(
    project, admin, member, runs, slack, django_capture_on_commit_callbacks
):
    for event in ("model.promotion_requested", "model.promotion_decided", "model.alias_moved"):
        rule(project, slack, event)
    register(as_user(member), project, runs[0])
    register(as_user(member), project, runs[1])
    model = RegisteredModel.objects.get(project=project, name="resnet")
    request = request_promotion(as_user(member), model, "champion", 2)
    decide(as_user(admin), request, approve=True)

    deliveries = dispatch_pending(django_capture_on_commit_callbacks)

    assert [(d.event_type, d.payload["actor"]) for d in deliveries] == [
        ("model.promotion_requested", "bob_member"),
        ("model.promotion_decided", "alice_admin"),
        ("model.alias_moved", "alice_admin"),
    ]
    decided = deliveries[1].payload
    assert (decided["decision"], decided["comment"], decided["requested_by"]) == (
        "approved",
        "ok",
        "bob_member",
    )
    assert deliveries[2].payload["reason"] == "better on val"


def test_the_message_compares_with_the_version_the_alias_pointed_at(
    project, admin, member, runs, slack, django_capture_on_commit_callbacks
):
    rule(project, slack, "model.alias_moved")
    register(as_user(member), project, runs[0], aliases=["champion"])
    register(as_user(member), project, runs[1])
    model = RegisteredModel.objects.get(project=project, name="resnet")
    move(as_user(admin), model, "champion", 2)
    delivery = dispatch_pending(django_capture_on_commit_callbacks)[-1]

    report = report_for(delivery)

    assert report.title == "resnet@champion → v2"
    assert report.model == ModelRef(
        name="resnet", version=2, alias="champion", replaces=1, actor="alice_admin", reason="test"
    )
    assert report.run.public_id == runs[1].public_id
    assert report.baseline.public_id == runs[0].public_id
    assert report.baseline_label == "v1, what @champion pointed at before"
    assert [(m.key, m.value, m.baseline) for m in report.metrics] == [("val/acc", 0.78, 0.75)]


def test_the_api_takes_a_rule_on_a_model_event(as_admin, slack):
    response = as_admin.post(
        "/api/v1/projects/vision/rules", {"event": "model.alias_moved", "destination": slack.pk}
    )

    assert response.status_code == 201, response.json()
    assert Rule.objects.get().event == "model.alias_moved"


def test_an_alias_move_reaches_slack_once(
    project, admin, member, runs, fake_slack, settings, django_capture_on_commit_callbacks
):
    settings.KIROKU_SLACK_MESSAGES_PER_SECOND = 1000
    destination = slack_destination(project, token=fake_slack.token, channel=fake_slack.channel)
    rule(project, destination, "model.alias_moved")
    register(as_user(member), project, runs[0], name="<!channel> model", aliases=["champion"])
    [delivery] = dispatch_pending(django_capture_on_commit_callbacks)

    assert delivery_attempt(delivery_id=delivery.pk) == "sent"
    assert delivery_attempt(delivery_id=delivery.pk) == "skipped"

    [posted] = fake_slack.messages
    assert posted["blocks"][0]["text"]["text"] == "🔀 <!channel> model@champion → v1"
    assert posted["blocks"][1]["text"]["text"] == (
        "*Model:* &lt;!channel&gt; model · *Version:* v1 · *Alias:* @champion (was nothing)\n"
        "*By:* bob_member"
    )
    assert posted["text"].startswith("&lt;!channel&gt; model@champion → v1: resnet-a")
