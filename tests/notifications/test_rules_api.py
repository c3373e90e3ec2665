"""Rules over the API: admins say which event sends to which of the project's
destinations, on what condition and for which runs; every refusal names its field and
the limit; every change is audited."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import Invalid
from apps.notifications.models import Delivery, Rule
from apps.notifications.validation import rule_create_clean
from apps.projects.models import Role
from tests.notifications.helpers import rule, slack_destination

API = "/api/v1"


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


@pytest.fixture
def destination(project):
    return slack_destination(project)


def create(client, **body):
    return client.post(f"{API}/projects/vision/rules", body)


def test_the_admin_adds_a_rule_on_finish(as_admin, destination):
    response = create(as_admin, event="run.finished", destination=destination.pk)
    assert response.status_code == 201
    created = Rule.objects.get()
    assert response.json() == {
        "id": created.pk,
        "event": "run.finished",
        "destination": destination.pk,
        "condition": {},
        "filters": {},
        "cooldown": 0,
        "enabled": True,
        "last_fired_at": None,
        "created_at": created.created_at.isoformat().replace("+00:00", "Z"),
    }
    [event] = events("rule.create")
    assert (event.target_type, event.target_id, event.target_label) == (
        "rule",
        str(created.pk),
        "run.finished → ml-runs",
    )
    assert event.metadata == {
        "event": "run.finished",
        "destination": destination.pk,
        "condition": {},
        "filters": {},
        "cooldown": 0,
        "enabled": True,
    }


def test_a_threshold_rule_with_filters_and_cooldown(as_admin, destination):
    response = create(
        as_admin,
        event="metric.threshold",
        destination=destination.pk,
        condition={"metric": " val/loss ", "op": "<", "value": 0.25, "metrics": ["a", "b", "a"]},
        filters={"tags": {"team": "vision"}, "name": "resnet-*", "author": "", "branch": "main"},
        cooldown=3600,
        enabled=False,
    )
    assert response.status_code == 201
    body = response.json()
    assert body["condition"] == {
        "metric": "val/loss",
        "op": "<",
        "value": 0.25,
        "metrics": ["a", "b"],
    }
    assert body["filters"] == {"tags": {"team": "vision"}, "name": "resnet-*", "branch": "main"}
    assert (body["cooldown"], body["enabled"]) == (3600, False)


def test_a_new_best_rule(as_admin, destination):
    response = create(
        as_admin,
        event="run.new_best",
        destination=destination.pk,
        condition={"metric": "val/acc", "goal": "max"},
    )
    assert response.status_code == 201
    assert response.json()["condition"] == {"metric": "val/acc", "goal": "max"}


THRESHOLD = {"metric": "val/loss", "op": "<", "value": 0.25}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"event": "run.started"},
            "event",
            "event must be one of: run.finished, run.failed, run.killed, run.crashed, "
            "metric.threshold, run.new_best, comment.mention, ci.reported, "
            "model.version_created, model.alias_moved, model.promotion_requested, "
            "model.promotion_decided",
        ),
        (
            {"event": "metric.threshold", "condition": {"metric": "x", "op": "<"}},
            "condition.value",
            "a metric.threshold rule's condition needs: metric, op, value",
        ),
        (
            {"event": "metric.threshold", "condition": {**THRESHOLD, "op": "=="}},
            "condition.op",
            "condition.op must be one of: < <= > >=",
        ),
        (
            {"event": "metric.threshold", "condition": {**THRESHOLD, "value": "0.5"}},
            "condition.value",
            "condition.value must be a finite number",
        ),
        (
            {"event": "metric.threshold", "condition": {**THRESHOLD, "value": True}},
            "condition.value",
            "condition.value must be a finite number",
        ),
        (
            # An integer past float64: math.isfinite raised on it (a 500).
            {"event": "metric.threshold", "condition": {**THRESHOLD, "value": 10**400}},
            "condition.value",
            "condition.value must be a finite number",
        ),
        (
            {"event": "metric.threshold", "condition": {**THRESHOLD, "metric": "m" * 251}},
            "condition.metric",
            "condition.metric must be a non-empty string of at most 250 characters",
        ),
        (
            {"event": "run.new_best", "condition": {"metric": "acc", "goal": "median"}},
            "condition.goal",
            "condition.goal must be 'min' or 'max'",
        ),
        (
            {"event": "run.new_best", "condition": {"goal": "max"}},
            "condition.metric",
            "a run.new_best rule's condition needs: metric, goal",
        ),
        (
            {"event": "run.finished", "condition": {"metric": "acc"}},
            "condition.metric",
            "a run.finished rule's condition takes only: metrics",
        ),
        (
            {"event": "run.finished", "condition": {"metrics": [f"m{i}" for i in range(11)]}},
            "condition.metrics",
            "condition.metrics takes at most 10 metric keys",
        ),
        (
            {"event": "run.finished", "condition": ["acc"]},
            "condition",
            "condition must be an object",
        ),
        (
            {"event": "run.finished", "filters": {"colour": "red"}},
            "filters.colour",
            "filters take only: tags, name, author, branch",
        ),
        (
            {"event": "run.finished", "filters": {"tags": {f"k{i}": "v" for i in range(21)}}},
            "filters.tags",
            "filters.tags takes at most 20 pairs (got 21)",
        ),
        (
            {"event": "run.finished", "filters": {"tags": {"k": "v" * 251}}},
            "filters.tags",
            "filters.tags values must be strings of at most 250 characters",
        ),
        (
            {"event": "run.finished", "filters": {"tags": ["k"]}},
            "filters.tags",
            "filters.tags must be an object of tag: value",
        ),
        (
            {"event": "run.finished", "filters": {"name": "n" * 251}},
            "filters.name",
            "filters.name must be a non-empty string of at most 250 characters",
        ),
        (
            {"event": "run.finished", "filters": {"author": "a" * 151}},
            "filters.author",
            "filters.author must be a non-empty string of at most 150 characters",
        ),
        (
            {"event": "run.finished", "cooldown": -1},
            "cooldown",
            "cooldown must be whole seconds from 0 to 604800 (7 days)",
        ),
        (
            {"event": "run.finished", "cooldown": 604801},
            "cooldown",
            "cooldown must be whole seconds from 0 to 604800 (7 days)",
        ),
        (
            {"event": "run.finished", "cooldown": "60"},
            "cooldown",
            "cooldown must be whole seconds from 0 to 604800 (7 days)",
        ),
        (
            {"event": "run.finished", "enabled": "yes"},
            "enabled",
            "enabled must be true or false",
        ),
        (
            {"event": "run.finished", "colour": "red"},
            "colour",
            "unknown field 'colour'; allowed: condition, cooldown, destination, enabled, event, "
            "filters",
        ),
    ],
)
def test_a_bad_field_is_a_400_naming_it(as_admin, destination, body, field, message):
    response = create(as_admin, destination=destination.pk, **body)
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "invalid", "message": message, "field": field}}
    assert not Rule.objects.exists()
    assert events("rule.create") == []


def test_a_non_finite_threshold_is_refused(destination):
    with pytest.raises(Invalid) as raised:
        rule_create_clean(
            {
                "event": "metric.threshold",
                "destination": destination.pk,
                "condition": {**THRESHOLD, "value": float("inf")},
            }
        )
    assert raised.value.field == "condition.value"


def test_another_projects_destination_is_refused_like_a_missing_one(
    as_admin, project, other_project, destination
):
    theirs = slack_destination(other_project)
    answers = [
        create(as_admin, event="run.finished", destination=value)
        for value in (theirs.pk, str(theirs.pk), 999999, "x")
    ]
    expected = {
        "error": {
            "code": "invalid",
            "message": "destination must be the id of a destination of this project",
            "field": "destination",
        }
    }
    assert [(r.status_code, r.json()) for r in answers] == [(400, expected)] * 4
    assert not Rule.objects.exists()


def test_the_list_shows_the_projects_rules_oldest_first(
    as_admin, project, destination, other_project
):
    first = rule(project, destination, "run.finished")
    second = rule(project, destination, "run.crashed")
    rule(other_project, slack_destination(other_project), "run.finished")
    response = as_admin.get(f"{API}/projects/vision/rules")
    assert [r["id"] for r in response.json()["results"]] == [first.pk, second.pk]


def test_pausing_a_rule_is_audited_with_what_changed(as_admin, project, destination):
    existing = rule(project, destination, "run.finished")
    response = as_admin.patch(f"{API}/rules/{existing.pk}", {"enabled": False})
    assert response.status_code == 200
    assert response.json()["enabled"] is False
    [event] = events("rule.update")
    assert event.metadata == {"before": {"enabled": True}, "after": {"enabled": False}}


def test_a_new_event_needs_a_condition_that_fits_it(as_admin, project, destination):
    existing = rule(project, destination, "run.finished")
    response = as_admin.patch(f"{API}/rules/{existing.pk}", {"event": "metric.threshold"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "condition.metric"
    existing.refresh_from_db()
    assert existing.event == "run.finished"
    response = as_admin.patch(
        f"{API}/rules/{existing.pk}", {"event": "metric.threshold", "condition": THRESHOLD}
    )
    assert response.status_code == 200
    existing.refresh_from_db()
    assert (existing.event, existing.condition) == ("metric.threshold", THRESHOLD)


def test_a_patch_that_changes_nothing_records_nothing(as_admin, project, destination):
    existing = rule(project, destination, "run.finished", cooldown_seconds=60)
    response = as_admin.patch(f"{API}/rules/{existing.pk}", {"cooldown": 60})
    assert response.status_code == 200
    assert events("rule.update") == []


def test_moving_a_rule_to_another_projects_destination_is_refused(
    as_admin, project, destination, other_project
):
    existing = rule(project, destination, "run.finished")
    theirs = slack_destination(other_project)
    response = as_admin.patch(f"{API}/rules/{existing.pk}", {"destination": theirs.pk})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "destination"
    existing.refresh_from_db()
    assert existing.destination_id == destination.pk


def test_delete_keeps_the_rules_deliveries_in_the_log(as_admin, project, destination):
    existing = rule(project, destination, "run.finished")
    delivery = Delivery.objects.create(
        project=project,
        rule=existing,
        destination=destination,
        event_type="run.finished",
        idempotency_key=f"{existing.pk}:1",
    )
    response = as_admin.delete(f"{API}/rules/{existing.pk}")
    assert response.status_code == 204
    assert not Rule.objects.exists()
    delivery.refresh_from_db()
    assert delivery.rule_id is None
    [event] = events("rule.delete")
    assert event.target_label == "run.finished → ml-runs"


def test_another_projects_rule_is_not_found(as_admin, project, other_project):
    theirs = rule(other_project, slack_destination(other_project), "run.finished")
    for method in ("get", "patch", "delete"):
        response = getattr(as_admin, method)(f"{API}/rules/{theirs.pk}", {})
        assert response.status_code == 404
        assert response.json() == {
            "error": {"code": "not_found", "message": "rule not found", "field": None}
        }
    assert Rule.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_non_admins_cannot_add_rules(api_as, project, destination, member, viewer, role):
    user = member if role == Role.MEMBER else viewer
    response = create(api_as(user), event="run.finished", destination=destination.pk)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "this needs the admin role in project 'vision'"
    assert not Rule.objects.exists()
