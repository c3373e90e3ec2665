"""Writing to and draining the outbox."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.events.models import DomainEvent
from apps.events.subscribers import subscribers_for

logger = logging.getLogger(__name__)

# Error text kept on the row for operators; the rest goes to the log.
LAST_ERROR_MAX = 2000


def event_emit(
    *,
    type: str,
    project_id: int | None,
    run_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> DomainEvent:
    """Write a DomainEvent in the caller's transaction and dispatch it after commit.

    ``type`` is a name registered in ``apps.events.registry``, and ``payload`` holds
    the keys documented there. Must be called inside ``transaction.atomic``: the event
    exists exactly when the change it records does.
    """
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("event_emit must run inside transaction.atomic with its change")
    event = DomainEvent.objects.create(
        type=type, project_id=project_id, run_id=run_id, payload=payload or {}
    )
    transaction.on_commit(lambda: _schedule_dispatch(event.pk))
    return event


def _schedule_dispatch(event_id: int) -> None:
    from apps.events.tasks import dispatch_event

    try:
        dispatch_event.delay(event_id)
    except Exception:  # a broker outage must not fail the request; the sweeper retries
        logger.exception("could not enqueue dispatch of domain event %s", event_id)


def event_dispatch(*, event_id: int) -> bool:
    """Hand one event to its subscribers and mark it dispatched.

    Returns True when it was dispatched now, False when it was already dispatched,
    is gone, or a subscriber failed (the row keeps the error and the sweeper retries).
    """
    with transaction.atomic():
        event = (
            DomainEvent.objects.select_for_update(skip_locked=True)
            .filter(pk=event_id, dispatched_at__isnull=True)
            .first()
        )
        if event is None:
            return False
        try:
            for handler in subscribers_for(event.type):
                with transaction.atomic():
                    handler(event)
        except Exception as exc:
            logger.exception("dispatch of domain event %s failed", event_id)
            DomainEvent.objects.filter(pk=event.pk).update(
                attempts=event.attempts + 1, last_error=repr(exc)[:LAST_ERROR_MAX]
            )
            return False
        DomainEvent.objects.filter(pk=event.pk).update(
            dispatched_at=timezone.now(), attempts=event.attempts + 1, last_error=""
        )
        return True


def event_retry_undispatched(*, older_than: timedelta, limit: int = 500) -> int:
    """Dispatch events left behind (a crash after commit, a failed subscriber).

    Returns how many were dispatched.
    """
    cutoff = timezone.now() - older_than
    ids = list(
        DomainEvent.objects.filter(dispatched_at__isnull=True, created_at__lte=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for event_id in ids if event_dispatch(event_id=event_id))


def event_purge_dispatched(*, older_than: timedelta, batch: int = 5000) -> int:
    """Delete events dispatched more than ``older_than`` ago (the outbox would otherwise
    grow with every run's metric announcements). Returns how many were deleted."""
    cutoff = timezone.now() - older_than
    deleted = 0
    while True:
        ids = list(
            DomainEvent.objects.filter(dispatched_at__lt=cutoff).values_list("pk", flat=True)[
                :batch
            ]
        )
        if not ids:
            return deleted
        deleted += DomainEvent.objects.filter(pk__in=ids).delete()[0]
