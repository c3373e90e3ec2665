"""Creating, editing, ending, crashing, deleting and restoring runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.events.models import DomainEvent
from apps.runs import limits
from apps.runs.models import Run, RunStatus
from apps.runs.services import run_mark_stale_crashed
from tests.conftest import points


def audit_actions(run_id: str) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_id=run_id).order_by("pk").values_list("action", flat=True)
    )


@pytest.mark.django_db
def test_create_records_everything_and_answers_with_portal_url(as_member, settings):
    settings.KIROKU_BASE_URL = "https://kiroku.example"
    response = as_member.post(
        "/api/v1/projects/vision/runs",
        {
            "name": "resnet",
            "group": "sweep-1",
            "notes": "first",
            "params": {"lr": 0.001},
            "tags": {"team": "nlp"},
            "git": {
                "commit": "abc123",
                "branch": "main",
                "dirty": True,
                "remote": "https://user:s3cret@github.com/acme/x.git",
                "diff": "+a",
            },
            "environment": {
                "python": "3.11.7",
                "packages": ["numpy==2.0"],
                "os": "Linux",
                "cpu_count": 8,
                "memory": 16 * 2**30,
                "gpus": [{"name": "A100"}],
                "command": ["train.py", "--lr", "0.001"],
                "cwd": "/work",
            },
            "ci": {
                "provider": "github",
                "commit": "abc123",
                "ref": "refs/pull/7/merge",
                "pr": 7,
                "workflow_url": "https://github.com/acme/x/actions/runs/1",
            },
            "datasets": [
                {
                    "name": "train",
                    "uri": "data/train",
                    "digest": "sha256:ff",
                    "size": 10,
                    "file_count": 2,
                    "source": "local",
                }
            ],
            "started_at": "2026-01-01T00:00:00Z",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["url"] == f"https://kiroku.example/projects/vision/runs/{body['id']}"
    assert len(body["id"]) == 32
    assert body["status"] == "RUNNING"
    assert body["author"] == "bob_member"
    assert body["git"] == {
        "commit": "abc123",
        "branch": "main",
        "dirty": True,
        "remote": "https://github.com/acme/x.git",
        "diff": "+a",
        "diff_truncated": False,
    }
    assert body["params"] == {"lr": "0.001"}
    assert body["environment"]["gpus"] == [{"name": "A100"}]
    assert body["ci"]["pr"] == 7
    assert body["datasets"] == [
        {
            "name": "train",
            "uri": "data/train",
            "digest": "sha256:ff",
            "size": 10,
            "file_count": 2,
            "source": "local",
        }
    ]
    assert body["started_at"] == "2026-01-01T00:00:00Z"
    assert as_member.get(f"/api/v1/runs/{body['id']}").json() == body


@pytest.mark.django_db
def test_public_ids_are_random_not_sequential(make_run):
    ids = [make_run() for _ in range(3)]
    assert len(set(ids)) == 3
    assert sorted(ids) != ids or sorted(ids, reverse=True) != ids


@pytest.mark.django_db
def test_same_client_id_returns_the_existing_run(as_member):
    body = {"name": "offline", "client_id": "abcdef123456"}
    first = as_member.post("/api/v1/projects/vision/runs", body)
    second = as_member.post("/api/v1/projects/vision/runs", body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Run.objects.filter(client_id="abcdef123456").count() == 1


@pytest.mark.django_db
def test_client_id_is_scoped_to_the_project(as_member, api_as, outsider):
    from apps.projects.models import Membership, Project, Role

    other = Project.objects.create(slug="nlp", name="NLP")
    Membership.objects.create(project=other, user=outsider, role=Role.MEMBER)
    mine = as_member.post("/api/v1/projects/vision/runs", {"client_id": "abcdef123456"})
    theirs = api_as(outsider).post("/api/v1/projects/nlp/runs", {"client_id": "abcdef123456"})
    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]


@pytest.mark.django_db
@pytest.mark.parametrize("client_id", ["short", "x" * 65, "has/slash", 12345678])
def test_bad_client_id_is_refused(as_member, client_id):
    response = as_member.post("/api/v1/projects/vision/runs", {"client_id": client_id})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "client_id"


@pytest.mark.django_db
def test_parent_must_be_a_run_of_the_same_project(as_member, make_run):
    parent = make_run(name="sweep")
    child = as_member.post("/api/v1/projects/vision/runs", {"parent_id": parent})
    assert child.json()["parent_id"] == parent
    missing = as_member.post("/api/v1/projects/vision/runs", {"parent_id": "0" * 32})
    assert missing.status_code == 400
    assert missing.json()["error"]["field"] == "parent_id"


@pytest.mark.django_db
def test_git_diff_over_1_mib_is_truncated_and_flagged(as_member):
    diff = "x" * (limits.MAX_GIT_DIFF_BYTES + 10)
    response = as_member.post("/api/v1/projects/vision/runs", {"git": {"diff": diff}})
    git = response.json()["git"]
    assert (len(git["diff"]), git["diff_truncated"]) == (limits.MAX_GIT_DIFF_BYTES, True)
    run = Run.objects.get(public_id=response.json()["id"])
    assert (run.git_diff, run.git_diff_truncated) == ("x" * limits.MAX_GIT_DIFF_BYTES, True)


@pytest.mark.django_db
def test_unknown_environment_field_is_named(as_member):
    response = as_member.post("/api/v1/projects/vision/runs", {"environment": {"pyhton": "3"}})
    assert (response.status_code, response.json()["error"]["field"]) == (400, "pyhton")


@pytest.mark.django_db
def test_finish_sets_status_and_is_idempotent(as_member, run_id):
    first = as_member.post(
        f"/api/v1/runs/{run_id}/finish", {"status": "FINISHED", "summary": {"best": 0.9}}
    )
    again = as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": "finished"})
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["status"] == "FINISHED"
    assert again.json()["ended_at"] == first.json()["ended_at"]
    assert again.json()["summary"] == {"best": 0.9}
    run = Run.objects.get(public_id=run_id)
    assert (run.status, run.ended_at is not None) == (RunStatus.FINISHED, True)
    assert dict(run.summary_values.values_list("key", "value")) == {"best": 0.9}
    assert audit_actions(run_id) == ["run.create", "run.finish"]
    assert DomainEvent.objects.filter(type="run.finished").count() == 1


@pytest.mark.django_db
def test_finish_with_another_status_after_ending_is_409(as_member, run_id):
    as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": "failed"})
    response = as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": "finished"})
    assert (response.status_code, response.json()["error"]["field"]) == (409, "status")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "event"),
    [
        ("failed", "run.failed"),
        ("killed", "run.killed"),
        ("Finished", "run.finished"),
    ],
)
def test_finish_emits_the_status_event(as_member, run_id, status, event):
    as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": status})
    assert list(
        DomainEvent.objects.filter(type__startswith="run.").values_list("type", flat=True)
    ) == [event]


@pytest.mark.django_db
def test_finish_refuses_unknown_status(as_member, run_id):
    response = as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": "crashed"})
    assert (response.status_code, response.json()["error"]["field"]) == (400, "status")


@pytest.mark.django_db
def test_patch_works_in_any_state(as_member, run_id):
    as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": "finished"})
    response = as_member.patch(
        f"/api/v1/runs/{run_id}", {"name": "renamed", "notes": "good", "tags": {"stage": "prod"}}
    )
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["notes"], response.json()["tags"]) == (
        "renamed",
        "good",
        {"stage": "prod"},
    )
    run = Run.objects.get(public_id=run_id)
    assert (run.status, run.name, run.notes, dict(run.tags.values_list("key", "value"))) == (
        RunStatus.FINISHED,
        "renamed",
        "good",
        {"stage": "prod"},
    )
    removed = as_member.patch(f"/api/v1/runs/{run_id}", {"tags": {"stage": None}})
    assert removed.json()["tags"] == {}
    assert not run.tags.exists()


@pytest.mark.django_db
def test_stale_run_is_marked_crashed_and_fresh_one_left_alone(make_run):
    stale, fresh = make_run(name="stale"), make_run(name="fresh")
    Run.objects.filter(public_id=stale).update(heartbeat_at=timezone.now() - timedelta(minutes=6))
    assert run_mark_stale_crashed(timeout=timedelta(minutes=5)) == 1
    assert Run.objects.get(public_id=stale).status == RunStatus.CRASHED
    assert Run.objects.get(public_id=fresh).status == RunStatus.RUNNING
    crash = AuditEvent.objects.get(action="run.crash")
    assert (crash.actor_type, crash.target_id) == ("system", stale)
    assert (
        DomainEvent.objects.filter(
            type="run.crashed", run_id=Run.objects.get(public_id=stale).pk
        ).count()
        == 1
    )


@pytest.mark.django_db
def test_finished_runs_are_never_marked_crashed(as_member, run_id):
    as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": "finished"})
    Run.objects.filter(public_id=run_id).update(heartbeat_at=timezone.now() - timedelta(days=1))
    assert run_mark_stale_crashed(timeout=timedelta(minutes=5)) == 0


@pytest.mark.django_db
def test_heartbeat_revives_a_crashed_run(as_member, run_id):
    Run.objects.filter(public_id=run_id).update(status=RunStatus.CRASHED, ended_at=timezone.now())
    response = as_member.post(f"/api/v1/runs/{run_id}/heartbeat")
    assert response.json()["status"] == "RUNNING"
    run = Run.objects.get(public_id=run_id)
    assert (run.status, run.ended_at) == (RunStatus.RUNNING, None)


@pytest.mark.django_db
def test_crash_then_log_keeps_every_point(as_member, run_id):
    as_member.post(
        f"/api/v1/runs/{run_id}/log", {"batch_id": "a", "metrics": points("loss", range(5))}
    )
    Run.objects.filter(public_id=run_id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    run_mark_stale_crashed(timeout=timedelta(minutes=5))
    as_member.post(
        f"/api/v1/runs/{run_id}/log", {"batch_id": "b", "metrics": points("loss", range(5, 9))}
    )
    metrics = as_member.get(f"/api/v1/runs/{run_id}/metrics").json()["results"]
    assert (metrics[0]["count"], metrics[0]["last_step"]) == (9, 8)
    assert Run.objects.get(public_id=run_id).status == RunStatus.RUNNING


@pytest.mark.django_db
def test_deleted_run_disappears_and_admin_restores_it(as_admin, as_member, run_id):
    assert as_admin.delete(f"/api/v1/runs/{run_id}").status_code == 204
    assert as_member.get(f"/api/v1/runs/{run_id}").status_code == 404
    assert as_admin.get(f"/api/v1/runs/{run_id}").status_code == 404
    listing = as_member.get("/api/v1/projects/vision/runs").json()["results"]
    assert run_id not in [r["id"] for r in listing]
    # A member does not learn that the deleted run exists.
    assert as_member.post(f"/api/v1/runs/{run_id}/restore").status_code == 404
    restored = as_admin.post(f"/api/v1/runs/{run_id}/restore")
    assert restored.status_code == 200
    assert as_member.get(f"/api/v1/runs/{run_id}").status_code == 200
    assert audit_actions(run_id) == ["run.create", "run.delete", "run.restore"]


@pytest.mark.django_db
def test_deleted_project_hides_its_runs(as_admin, as_member, run_id):
    as_admin.delete("/api/v1/projects/vision")
    assert as_member.get(f"/api/v1/runs/{run_id}").status_code == 404
    assert as_member.get("/api/v1/projects/vision").status_code == 404
    assert as_admin.post("/api/v1/projects/vision/restore").status_code == 200
    assert as_member.get(f"/api/v1/runs/{run_id}").status_code == 200


@pytest.mark.django_db
def test_purge_removes_old_deleted_runs_but_keeps_their_audit(as_admin, run_id):
    from apps.runs.services import run_purge_deleted

    as_admin.delete(f"/api/v1/runs/{run_id}")
    Run.objects.filter(public_id=run_id).update(deleted_at=timezone.now() - timedelta(days=31))
    assert run_purge_deleted(older_than_days=30) == 1
    assert not Run.objects.filter(public_id=run_id).exists()
    assert audit_actions(run_id) == ["run.create", "run.delete", "run.purge"]


@pytest.mark.django_db
def test_search_page_costs_the_same_queries_for_3_or_30_runs(as_member, make_run):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for_page() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = as_member.get("/api/v1/projects/vision/runs", {"page_size": 100})
        assert response.status_code == 200
        return len(captured.captured_queries)

    for _ in range(3):
        make_run(params={"lr": 0.1}, tags={"t": "x"})
    few = queries_for_page()
    for _ in range(27):
        make_run(params={"lr": 0.1}, tags={"t": "x"})
    assert queries_for_page() == few


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["finished", "failed", "killed"])
def test_resume_reopens_an_ended_run_for_new_points(as_member, run_id, status):
    as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": status})
    response = as_member.post(f"/api/v1/runs/{run_id}/resume")
    assert (response.status_code, response.json()["status"], response.json()["ended_at"]) == (
        200,
        "RUNNING",
        None,
    )
    logged = as_member.post(
        f"/api/v1/runs/{run_id}/log", {"batch_id": "after", "metrics": points("loss", [5])}
    )
    assert logged.json()["stored"]["metrics"] == 1
    assert audit_actions(run_id) == ["run.create", "run.finish", "run.resume"]


@pytest.mark.django_db
def test_resume_of_a_running_run_changes_nothing(as_member, run_id):
    before = Run.objects.filter(public_id=run_id).values().get()
    response = as_member.post(f"/api/v1/runs/{run_id}/resume")
    assert response.json()["status"] == "RUNNING"
    assert audit_actions(run_id) == ["run.create"]
    assert Run.objects.filter(public_id=run_id).values().get() == before


@pytest.mark.django_db
def test_null_tag_in_a_log_batch_removes_the_tag(as_member, run_id):
    as_member.post(f"/api/v1/runs/{run_id}/log", {"batch_id": "a", "tags": {"stage": "warm"}})
    as_member.post(f"/api/v1/runs/{run_id}/log", {"batch_id": "b", "tags": {"stage": None}})
    assert as_member.get(f"/api/v1/runs/{run_id}").json()["tags"] == {}


@pytest.mark.django_db
def test_null_tag_when_creating_a_run_is_refused(as_member):
    response = as_member.post("/api/v1/projects/vision/runs", {"tags": {"stage": None}})
    assert (response.status_code, response.json()["error"]["field"]) == (400, "tags.stage")


@pytest.mark.django_db
def test_purging_runs_and_projects_deletes_their_metric_points(as_admin, as_member, make_run):
    from apps.projects.models import Project
    from apps.projects.services import project_purge_deleted
    from apps.runs.models import MetricPoint, MetricSummary
    from apps.runs.services import run_purge_deleted

    # MetricPoint has no database-level foreign key: the cascade is Django's.
    first, second = make_run(), make_run()
    for run_id in (first, second):
        as_member.post(
            f"/api/v1/runs/{run_id}/log", {"batch_id": "a", "metrics": points("loss", range(3))}
        )
    as_admin.delete(f"/api/v1/runs/{first}")
    Run.objects.filter(public_id=first).update(deleted_at=timezone.now() - timedelta(days=31))
    run_purge_deleted(older_than_days=30)
    assert MetricPoint.objects.count() == 3
    as_admin.delete("/api/v1/projects/vision")
    Project.objects.filter(slug="vision").update(deleted_at=timezone.now() - timedelta(days=31))
    assert project_purge_deleted(older_than_days=30) == 1
    assert (MetricPoint.objects.count(), MetricSummary.objects.count()) == (0, 0)
