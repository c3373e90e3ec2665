"""A real Celery worker on Redis dispatches the outbox and runs the periodic jobs."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from apps.events.models import DomainEvent
from apps.runs.models import Run, RunStatus
from config.celery import app
from tests.integration.workers import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_worker_dispatches_domain_events_after_commit(celery_worker, as_member, run_id):
    as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": "finished"})
    run_pk = Run.objects.get(public_id=run_id).pk
    assert eventually(
        lambda: DomainEvent.objects.filter(
            run_id=run_pk, type="run.finished", dispatched_at__isnull=False
        ).exists()
    )


def test_worker_runs_crash_detection(celery_worker, run_id):
    Run.objects.filter(public_id=run_id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    result = app.send_task("runs.mark_crashed")
    assert result.id
    assert eventually(lambda: Run.objects.get(public_id=run_id).status == RunStatus.CRASHED)


def test_worker_deletes_the_objects_of_a_purged_run(
    s3_store, celery_worker, as_member, as_admin, run_id
):
    from apps.runs.services import run_purge_deleted
    from tests.artifacts.helpers import declare

    declared = declare(as_member, run_id, "model.pt", b"weights").json()
    httpx.put(declared["upload"]["url"], content=b"weights", headers=declared["upload"]["headers"])
    assert as_member.post(f"/api/v1/artifacts/{declared['id']}/complete", {}).status_code == 200
    as_admin.delete(f"/api/v1/runs/{run_id}")
    Run.objects.filter(public_id=run_id).update(deleted_at=timezone.now() - timedelta(days=90))

    assert run_purge_deleted(older_than_days=30) == 1

    def bucket_empty() -> bool:
        return s3_store.list_objects_v2(Bucket=s3_store.bucket).get("KeyCount", 0) == 0

    assert eventually(bucket_empty)
