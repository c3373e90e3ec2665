"""The in-process scheduler that stands in for Celery beat in the embedded default."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from apps.core.scheduler import InProcessScheduler
from apps.runs.models import Run, RunStatus


def test_every_periodic_job_names_a_registered_task():
    from config.celery import app

    app.loader.import_default_modules()
    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} <= set(app.tasks)


@pytest.mark.django_db(transaction=True)
def test_due_job_runs_and_is_not_rerun_before_its_interval(make_run):
    stale = make_run(name="stale")
    Run.objects.filter(public_id=stale).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    scheduler = InProcessScheduler({"crash": {"task": "runs.mark_crashed", "schedule": 60.0}})
    next_runs: dict[str, float] = {}
    scheduler.run_due(1000.0, next_runs)
    assert Run.objects.get(public_id=stale).status == RunStatus.CRASHED
    assert next_runs == {"crash": 1060.0}
    again = make_run(name="later")
    Run.objects.filter(public_id=again).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    scheduler.run_due(1059.0, next_runs)
    assert Run.objects.get(public_id=again).status == RunStatus.RUNNING
    scheduler.run_due(1060.0, next_runs)
    assert Run.objects.get(public_id=again).status == RunStatus.CRASHED


@pytest.mark.django_db(transaction=True)
def test_a_failing_job_does_not_stop_the_others(make_run):
    stale = make_run(name="stale")
    Run.objects.filter(public_id=stale).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    scheduler = InProcessScheduler(
        {
            "broken": {"task": "no.such.task", "schedule": 1.0},
            "crash": {"task": "runs.mark_crashed", "schedule": 1.0},
        }
    )
    scheduler.run_due(0.0, {})
    assert Run.objects.get(public_id=stale).status == RunStatus.CRASHED
