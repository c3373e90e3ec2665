from __future__ import annotations

from celery import shared_task
from django.conf import settings

from apps.projects.services import project_purge_deleted


@shared_task(
    name="projects.purge_deleted",
    time_limit=1800,
    soft_time_limit=1700,
    max_retries=0,
)
def purge_deleted() -> int:
    return project_purge_deleted(older_than_days=settings.KIROKU_DELETED_RETENTION_DAYS)
