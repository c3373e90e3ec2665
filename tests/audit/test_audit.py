"""The audit log: one event per write, the right actor and target, and no edits."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from apps.audit.models import AppendOnlyError, AuditEvent


def events(**filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(**filters).order_by("pk"))


@pytest.mark.django_db
def test_project_create_is_audited_with_user_actor(api_as, admin):
    response = api_as(admin).post("/api/v1/projects", {"slug": "nlp", "name": "NLP"})
    [event] = events(action="project.create")
    assert (event.actor_type, event.actor_user_label, event.project_label, event.target_label) == (
        "token",
        "alice_admin",
        "nlp",
        "nlp",
    )
    assert event.project_id is not None
    assert response.status_code == 201


@pytest.mark.django_db
def test_each_run_write_leaves_exactly_one_event(as_member, as_admin, run_id):
    as_member.post(
        f"/api/v1/runs/{run_id}/log",
        {"batch_id": "a", "metrics": [{"key": "x", "value": 1, "step": 0}]},
    )
    as_member.post(f"/api/v1/runs/{run_id}/heartbeat")
    as_member.patch(f"/api/v1/runs/{run_id}", {"name": "renamed"})
    as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": "finished"})
    as_admin.delete(f"/api/v1/runs/{run_id}")
    as_admin.post(f"/api/v1/runs/{run_id}/restore")
    trail = [(e.action, e.actor_user_label) for e in events(target_id=run_id)]
    assert trail == [
        ("run.create", "bob_member"),
        ("run.update", "bob_member"),
        ("run.finish", "bob_member"),
        ("run.delete", "alice_admin"),
        ("run.restore", "alice_admin"),
    ]


@pytest.mark.django_db
def test_event_carries_ip_and_user_agent(as_member, run_id):
    event = events(action="run.create", target_id=run_id)[0]
    assert event.ip == "127.0.0.1"
    assert event.metadata == {}


@pytest.mark.django_db
def test_service_token_actor_is_the_token(as_service):
    response = as_service.post("/api/v1/projects/vision/runs", {"name": "ci"})
    [event] = events(action="run.create", target_id=response.json()["id"])
    assert (event.actor_type, event.actor_label.split(" ")[0]) == ("token", "ci")


@pytest.mark.django_db
def test_orm_cannot_update_or_delete_an_event(as_member, run_id):
    event = events(target_id=run_id)[0]
    event.action = "run.delete"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()


@pytest.mark.django_db
def test_database_refuses_raw_update(as_member, run_id):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET action = 'forged'")
    assert [e.action for e in events()] == ["run.create"]


@pytest.mark.django_db
def test_audit_list_filters_by_action_and_actor(as_admin, as_member, run_id):
    as_admin.delete(f"/api/v1/runs/{run_id}")
    by_action = as_admin.get("/api/v1/projects/vision/audit", {"action": "run.delete"}).json()
    assert [e["action"] for e in by_action["results"]] == ["run.delete"]
    by_prefix = as_admin.get("/api/v1/projects/vision/audit", {"action": "run.*"}).json()
    assert [e["action"] for e in by_prefix["results"]] == ["run.delete", "run.create"]
    by_actor = as_admin.get("/api/v1/projects/vision/audit", {"actor": "bob_member"}).json()
    assert [e["action"] for e in by_actor["results"]] == ["run.create"]


@pytest.mark.django_db
def test_audit_unknown_action_is_400(as_admin):
    response = as_admin.get("/api/v1/projects/vision/audit", {"action": "run.explode"})
    assert (response.status_code, response.json()["error"]["field"]) == (400, "action")


@pytest.mark.django_db
def test_audit_time_window(as_admin, run_id):
    created = events(target_id=run_id)[0].created_at
    after = as_admin.get("/api/v1/projects/vision/audit", {"since": (created.isoformat())}).json()[
        "results"
    ]
    assert [e["target"]["id"] for e in after] == [run_id]
    before = as_admin.get("/api/v1/projects/vision/audit", {"until": created.isoformat()}).json()[
        "results"
    ]
    assert before == []


@pytest.mark.django_db
def test_audit_pages_with_cursor(as_admin, make_run):
    for _ in range(5):
        make_run()
    first = as_admin.get("/api/v1/projects/vision/audit", {"page_size": 3}).json()
    second = as_admin.get(
        "/api/v1/projects/vision/audit", {"page_size": 3, "cursor": first["next"]}
    ).json()
    ids = [e["id"] for e in first["results"] + second["results"]]
    assert len(ids) == len(set(ids)) == 5
    assert second["next"] is None


@pytest.mark.django_db
def test_csv_export_neutralises_formulas(as_admin, as_member):
    as_member.post("/api/v1/projects/vision/runs", {"name": '=HYPERLINK("http://x")'})
    response = as_admin.get("/api/v1/projects/vision/audit/export")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["id", "created_at", "action"]
    labels = [row[8] for row in rows[1:]]
    assert any(label.startswith("'=HYPERLINK") for label in labels)
    assert response["Content-Type"].startswith("text/csv")
