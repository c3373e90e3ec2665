"""Destinations over the API: admins connect Slack channels and Notion databases; the
token is write-only (stored encrypted, shown masked, never in an answer or the audit
log); a bad field is a 400 naming it; the test message reaches the (fake) Slack once."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.notifications.models import Destination, Rule
from tests.notifications.helpers import rule, slack_destination

API = "/api/v1"
TOKEN = "xoxb-1111-2222-kirokuTestToken"
SLACK_BODY = {
    "kind": "slack",
    "name": "ml-alerts",
    "config": {"token": TOKEN, "channel": "C0KIROKU01"},
}
NOTION_TOKEN = "ntn_secretNotionToken1234"


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


def create(client, body=SLACK_BODY, slug: str = "vision"):
    return client.post(f"{API}/projects/{slug}/destinations", body)


# ---- create -----------------------------------------------------------------------


def test_the_admin_connects_a_slack_channel(as_admin, project, admin):
    response = create(as_admin)
    assert response.status_code == 201
    destination = Destination.objects.get()
    assert response.json() == {
        "id": destination.pk,
        "kind": "slack",
        "name": "ml-alerts",
        "target": "C0KIROKU01",
        "token_hint": "xoxb-••••oken",
        "broken": None,
        "created_at": destination.created_at.isoformat().replace("+00:00", "Z"),
    }
    assert destination.credentials == {"token": TOKEN}
    assert TOKEN not in destination.credentials_encrypted
    assert destination.created_by_id == admin.pk
    [event] = events("destination.create")
    assert (event.target_type, event.target_id, event.target_label) == (
        "destination",
        str(destination.pk),
        "ml-alerts",
    )
    assert event.metadata == {"kind": "slack", "target": "C0KIROKU01"}


def test_a_notion_database_id_is_stored_in_its_dashed_form(as_admin, project):
    body = {
        "kind": "notion",
        "name": "results",
        "config": {"token": NOTION_TOKEN, "database_id": "1F2E3D4C5B6A79881726354453627180"},
    }
    response = create(as_admin, body)
    assert response.status_code == 201
    assert response.json()["target"] == "1f2e3d4c-5b6a-7988-1726-354453627180"
    assert response.json()["token_hint"] == "••••1234"
    destination = Destination.objects.get(pk=response.json()["id"])
    assert (destination.kind, destination.target) == (
        "notion",
        "1f2e3d4c-5b6a-7988-1726-354453627180",
    )
    assert destination.credentials == {"token": NOTION_TOKEN}


def test_the_token_never_appears_in_any_answer_or_audit_event(as_admin, project):
    destination_id = create(as_admin).json()["id"]
    answers = [
        as_admin.get(f"{API}/projects/vision/destinations"),
        as_admin.get(f"{API}/destinations/{destination_id}"),
        as_admin.patch(f"{API}/destinations/{destination_id}", {"config": {"token": TOKEN + "2"}}),
    ]
    for response in answers:
        assert response.status_code == 200
        assert "kirokuTestToken" not in response.content.decode()
    assert "kirokuTestToken" not in json.dumps(list(AuditEvent.objects.values("metadata")))


def _error(response) -> tuple[int, str | None]:
    return response.status_code, response.json()["error"]["field"]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({**SLACK_BODY, "kind": "email"}, "kind", "kind must be 'slack' or 'notion'"),
        ({**SLACK_BODY, "name": "  "}, "name", "name must be non-empty text"),
        (
            {**SLACK_BODY, "name": "n" * 101},
            "name",
            "name must be at most 100 characters (got 101)",
        ),
        (
            {**SLACK_BODY, "config": {"channel": "C0KIROKU01"}},
            "config.token",
            "config.token must be non-empty text",
        ),
        (
            {**SLACK_BODY, "config": {"token": "abc-123", "channel": "C0KIROKU01"}},
            "config.token",
            "config.token must be a Slack bot or user token (starting with xoxb- or xoxp-)",
        ),
        (
            {**SLACK_BODY, "config": {"token": "xoxb-" + "a" * 196, "channel": "C0KIROKU01"}},
            "config.token",
            "config.token must be at most 200 characters",
        ),
        (
            {**SLACK_BODY, "config": {"token": "xoxb-a\nb", "channel": "C0KIROKU01"}},
            "config.token",
            "config.token must be printable ASCII without spaces",
        ),
        (
            {**SLACK_BODY, "config": {"token": TOKEN, "channel": "#general"}},
            "config.channel",
            "config.channel must be a Slack channel id such as C0123ABCD (the channel's "
            "details show it), not its name",
        ),
        (
            {**SLACK_BODY, "config": {"token": TOKEN, "channel": "C0KIROKU01", "url": "x"}},
            "config.url",
            "config of a Slack destination takes only token and channel (got 'url')",
        ),
        (
            {**SLACK_BODY, "config": "xoxb-1"},
            "config",
            "config must be an object with token and channel",
        ),
        (
            {"kind": "notion", "name": "n", "config": {"token": "t" * 9, "database_id": "abc"}},
            "config.database_id",
            "config.database_id must be a Notion database id: 32 hex digits, with or without "
            "dashes",
        ),
        (
            {"kind": "slack", "name": "n"},
            "config",
            "config must be an object with token and channel",
        ),
        (
            {**SLACK_BODY, "secret": 1},
            "secret",
            "unknown field 'secret'; allowed: config, kind, name",
        ),
    ],
)
def test_a_bad_field_is_a_400_naming_it(as_admin, project, body, field, message):
    response = create(as_admin, body)
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "invalid", "message": message, "field": field}}
    assert not Destination.objects.exists()
    assert events("destination.create") == []


def test_a_name_is_unique_in_the_project(as_admin, project):
    assert create(as_admin).status_code == 201
    response = create(as_admin)
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "conflict",
            "message": "a destination named 'ml-alerts' already exists in this project; "
            "choose another name",
            "field": "name",
        }
    }
    assert Destination.objects.count() == 1


# ---- read, change, remove ----------------------------------------------------------


def test_the_list_shows_the_projects_destinations_by_name(as_admin, project, other_project):
    last = slack_destination(project)
    Destination.objects.filter(pk=last.pk).update(name="zz")
    create(as_admin)
    slack_destination(other_project)
    response = as_admin.get(f"{API}/projects/vision/destinations")
    assert [d["name"] for d in response.json()["results"]] == ["ml-alerts", "zz"]


def test_a_broken_destination_shows_why(as_admin, project):
    destination = slack_destination(project)
    at = timezone.now()
    Destination.objects.filter(pk=destination.pk).update(
        broken_at=at, broken_reason="channel_not_found"
    )
    response = as_admin.get(f"{API}/destinations/{destination.pk}")
    assert response.json()["broken"] == {
        "reason": "channel_not_found",
        "at": at.isoformat().replace("+00:00", "Z"),
    }


def _broken(destination) -> Destination:
    Destination.objects.filter(pk=destination.pk).update(
        broken_at=timezone.now(), broken_reason="invalid_auth", remote={"data_source_id": "x"}
    )
    return Destination.objects.get(pk=destination.pk)


def test_a_new_token_replaces_the_old_one_and_clears_the_broken_state(as_admin, project):
    destination = _broken(slack_destination(project, token="xoxb-old-token-1111"))
    response = as_admin.patch(
        f"{API}/destinations/{destination.pk}", {"config": {"token": "xoxb-new-token-2222"}}
    )
    assert response.status_code == 200
    assert (response.json()["token_hint"], response.json()["broken"]) == ("xoxb-••••2222", None)
    destination.refresh_from_db()
    assert destination.credentials == {"token": "xoxb-new-token-2222"}
    assert destination.target == "C0KIROKU01"
    # The facts learned about the target still hold: the target did not change.
    assert destination.remote == {"data_source_id": "x"}
    [event] = events("destination.update")
    assert event.metadata == {
        "kind": "slack",
        "before": {},
        "after": {},
        "changed": ["token"],
        "repaired": True,
    }


def test_a_new_channel_replaces_the_target_and_forgets_what_was_learned(as_admin, project):
    destination = _broken(slack_destination(project))
    response = as_admin.patch(
        f"{API}/destinations/{destination.pk}", {"config": {"channel": "C0OTHER001"}}
    )
    assert response.status_code == 200
    destination.refresh_from_db()
    assert (destination.target, destination.remote, destination.broken_at) == (
        "C0OTHER001",
        {},
        None,
    )
    assert destination.credentials == {"token": "xoxb-test-token"}
    [event] = events("destination.update")
    assert event.metadata["before"] == {"target": "C0KIROKU01"}
    assert event.metadata["after"] == {"target": "C0OTHER001"}


def test_a_rename_keeps_the_broken_state(as_admin, project):
    destination = _broken(slack_destination(project))
    response = as_admin.patch(f"{API}/destinations/{destination.pk}", {"name": "renamed"})
    assert response.status_code == 200
    assert response.json()["name"] == "renamed"
    assert response.json()["broken"]["reason"] == "invalid_auth"
    broken_at = destination.broken_at
    destination.refresh_from_db()
    assert (destination.name, destination.broken_reason, destination.broken_at) == (
        "renamed",
        "invalid_auth",
        broken_at,
    )


def test_a_patch_that_changes_nothing_records_nothing(as_admin, project):
    destination = slack_destination(project)
    response = as_admin.patch(
        f"{API}/destinations/{destination.pk}", {"name": "ml-runs", "config": {}}
    )
    assert response.status_code == 200
    assert events("destination.update") == []


def test_a_rename_to_a_taken_name_is_a_409(as_admin, project):
    first = slack_destination(project)
    create(as_admin)
    response = as_admin.patch(f"{API}/destinations/{first.pk}", {"name": "ml-alerts"})
    assert _error(response) == (409, "name")
    first.refresh_from_db()
    assert first.name == "ml-runs"


def test_a_bad_new_token_is_refused_and_the_old_one_kept(as_admin, project):
    destination = slack_destination(project)
    response = as_admin.patch(
        f"{API}/destinations/{destination.pk}", {"config": {"token": "not-slack"}}
    )
    assert _error(response) == (400, "config.token")
    destination.refresh_from_db()
    assert destination.credentials == {"token": "xoxb-test-token"}


def test_delete_removes_the_destination_and_its_rules(as_admin, project):
    destination = slack_destination(project)
    rule(project, destination, "run.finished")
    response = as_admin.delete(f"{API}/destinations/{destination.pk}")
    assert response.status_code == 204
    assert not Destination.objects.exists()
    assert not Rule.objects.exists()
    [event] = events("destination.delete")
    assert event.metadata == {"kind": "slack", "target": "C0KIROKU01", "rules": 1}


def test_another_projects_destination_is_not_found(as_admin, project, other_project):
    theirs = slack_destination(other_project)
    for method in ("get", "patch", "delete"):
        response = getattr(as_admin, method)(f"{API}/destinations/{theirs.pk}", {})
        missing = getattr(as_admin, method)(f"{API}/destinations/999999", {})
        assert response.status_code == 404
        assert (
            response.json()
            == missing.json()
            == {"error": {"code": "not_found", "message": "destination not found", "field": None}}
        )
    assert Destination.objects.filter(pk=theirs.pk).exists()


def test_a_member_is_refused_with_the_role_it_needs(as_member, project):
    destination = slack_destination(project)
    response = as_member.get(f"{API}/destinations/{destination.pk}")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "this needs the admin role in project 'vision'"


# ---- the test message --------------------------------------------------------------


def test_a_test_message_reaches_the_channel_once(as_admin, project, fake_slack):
    destination = _broken(slack_destination(project, token=fake_slack.token))
    response = as_admin.post(f"{API}/destinations/{destination.pk}/test")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    [message] = fake_slack.messages
    assert message["channel"] == "C0KIROKU01"
    assert "Kiroku test message" in message["text"]
    destination.refresh_from_db()
    assert (destination.broken_at, destination.broken_reason) == (None, "")
    [event] = events("destination.test")
    assert event.metadata == {"kind": "slack", "ok": True, "code": ""}


def test_a_wrong_token_answers_its_error_code_only(as_admin, project, fake_slack):
    destination = slack_destination(project, token="xoxb-wrong-token")
    response = as_admin.post(f"{API}/destinations/{destination.pk}/test")
    assert response.status_code == 200
    assert response.json() == {"ok": False, "error": "invalid_auth"}
    assert fake_slack.messages == []
    [event] = events("destination.test")
    assert event.metadata == {"kind": "slack", "ok": False, "code": "invalid_auth"}


def test_a_failed_test_leaves_the_broken_state(as_admin, project, fake_slack):
    destination = _broken(slack_destination(project, token=fake_slack.token, channel="C0GONE0001"))
    response = as_admin.post(f"{API}/destinations/{destination.pk}/test")
    assert response.json() == {"ok": False, "error": "channel_not_found"}
    destination.refresh_from_db()
    assert destination.broken_reason == "invalid_auth"


def test_unreadable_credentials_are_reported_as_such(as_admin, project, fake_slack):
    destination = slack_destination(project, token=fake_slack.token)
    Destination.objects.filter(pk=destination.pk).update(credentials_encrypted="gAAAAAbroken")
    response = as_admin.post(f"{API}/destinations/{destination.pk}/test")
    assert response.json() == {"ok": False, "error": "credentials_unreadable"}
    assert fake_slack.messages == []


def test_a_member_cannot_send_a_test_message(as_member, project, fake_slack):
    destination = slack_destination(project, token=fake_slack.token)
    response = as_member.post(f"{API}/destinations/{destination.pk}/test")
    assert response.status_code == 403
    assert fake_slack.messages == []
    assert events("destination.test") == []


def test_a_notion_test_message_through_the_api(as_admin, project, fake_notion):
    body = {
        "kind": "notion",
        "name": "results",
        "config": {"token": fake_notion.token, "database_id": fake_notion.database_id},
    }
    destination_id = create(as_admin, body).json()["id"]
    response = as_admin.post(f"{API}/destinations/{destination_id}/test")
    assert response.json() == {"ok": True}
    as_admin.patch(f"{API}/destinations/{destination_id}", {"config": {"token": "ntn_wrong_1"}})
    response = as_admin.post(f"{API}/destinations/{destination_id}/test")
    assert response.json() == {"ok": False, "error": "unauthorized"}
