from __future__ import annotations

from celery import shared_task
from django.conf import settings

from apps.runs.services import run_mark_stale_crashed, run_purge_deleted


# Celery ships no type information (celery.* is ignore_missing_imports), so shared_task
# is an untyped decorator: each task below silences that one check, and stays a Celery task.
@shared_task(  # type: ignore[untyped-decorator]
    name="runs.mark_crashed",
    time_limit=300,
    soft_time_limit=250,
    max_retries=0,
)
def mark_crashed() -> int:
    return run_mark_stale_crashed()


@shared_task(  # type: ignore[untyped-decorator]
    name="runs.purge_deleted",
    time_limit=1800,
    soft_time_limit=1700,
    max_retries=0,
)
def purge_deleted() -> int:
    return run_purge_deleted(older_than_days=settings.KIROKU_DELETED_RETENTION_DAYS)
