from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from apps.events.services import event_dispatch, event_purge_dispatched, event_retry_undispatched


# Celery ships no type information (celery.* is ignore_missing_imports), so shared_task
# is an untyped decorator: each task below silences that one check, and stays a Celery task.
@shared_task(  # type: ignore[untyped-decorator]
    name="events.dispatch",
    acks_late=True,
    time_limit=120,
    soft_time_limit=100,
    max_retries=0,
)
def dispatch_event(event_id: int) -> bool:
    return event_dispatch(event_id=event_id)


@shared_task(  # type: ignore[untyped-decorator]
    name="events.retry_undispatched",
    time_limit=600,
    soft_time_limit=550,
    max_retries=0,
)
def retry_undispatched() -> int:
    return event_retry_undispatched(
        older_than=timedelta(seconds=settings.KIROKU_OUTBOX_RETRY_AFTER_SECONDS)
    )


@shared_task(  # type: ignore[untyped-decorator]
    name="events.purge_dispatched", time_limit=600, soft_time_limit=550, max_retries=0
)
def purge_dispatched() -> int:
    return event_purge_dispatched(older_than=timedelta(days=settings.KIROKU_OUTBOX_KEEP_DAYS))
