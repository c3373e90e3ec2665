from __future__ import annotations

from celery import shared_task
from django.conf import settings

from apps.artifacts.cleanup import artifacts_abort_stale, released_delete


@shared_task(
    name="artifacts.delete_released",
    time_limit=900,
    soft_time_limit=850,
    max_retries=0,
)
def delete_released() -> int:
    """Delete the objects of purged runs and deleted artifacts from the store. Also
    runs periodically, so a failed attempt is retried."""
    return released_delete()


@shared_task(
    name="artifacts.abort_stale_uploads",
    time_limit=900,
    soft_time_limit=850,
    max_retries=0,
)
def abort_stale_uploads() -> int:
    return artifacts_abort_stale(older_than_seconds=settings.KIROKU_ARTIFACT_PENDING_TTL_SECONDS)
