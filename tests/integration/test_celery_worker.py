"""A real Celery worker on Redis dispatches the outbox and runs the periodic jobs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.events.models import DomainEvent
from apps.runs.models import Run, RunStatus
from config.celery import app

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _eventually(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def celery_worker(tmp_path):
    """A worker process consuming both queues, on the test database and the test's
    artifact store."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": os.environ["REDIS_URL"],
        "KIROKU_VAR_DIR": str(tmp_path),
    }
    store = settings.KIROKU_ARTIFACT_STORE
    if store["backend"] == "s3":
        env["KIROKU_ARTIFACT_STORE"] = f"s3://{store['bucket']}/{store['prefix']}"
        env["AWS_ENDPOINT_URL"] = settings.KIROKU_S3_ENDPOINT_URL
    else:
        env["KIROKU_ARTIFACT_STORE"] = f"file://{store['root']}"
    app.control.purge()
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "default,maintenance",
            "--pool",
            "solo",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    before = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        assert _eventually(lambda: bool(app.control.ping(timeout=0.5)), timeout=60), (
            tmp_path / "worker.log"
        ).read_text()
        yield worker
    finally:
        app.conf.task_always_eager = before
        worker.terminate()
        worker.wait(timeout=30)
        log.close()


def test_worker_dispatches_domain_events_after_commit(celery_worker, as_member, run_id):
    as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": "finished"})
    run_pk = Run.objects.get(public_id=run_id).pk
    assert _eventually(
        lambda: DomainEvent.objects.filter(
            run_id=run_pk, type="run.finished", dispatched_at__isnull=False
        ).exists()
    )


def test_worker_runs_crash_detection(celery_worker, run_id):
    Run.objects.filter(public_id=run_id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    result = app.send_task("runs.mark_crashed")
    assert result.id
    assert _eventually(lambda: Run.objects.get(public_id=run_id).status == RunStatus.CRASHED)


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

    assert _eventually(bucket_empty)
