"""Sending deliveries: each attempt claims its row, sends, and records the outcome.

The rules that make a delivery arrive exactly once:

- The row exists before anything is sent (written with the event's dispatch), so a
  broker outage or a crash loses nothing: the sweeper re-enqueues rows left behind.
- An attempt first claims the row (status ``sending``, ``attempts + 1``) in its own
  committed transaction; a second task for the same row finds it claimed and leaves.
- The send happens outside any transaction. When an attempt's outcome is unknown
  (timeout after the remote accepted, worker killed mid-send), the next attempt sees
  ``attempts > 1`` and the notifier looks for its own earlier message before posting.
- Transient errors are retried with capped exponential backoff and jitter, never
  sooner than the remote's ``Retry-After``; permanent errors fail the delivery and
  mark the destination broken; after ``KIROKU_NOTIFY_MAX_ATTEMPTS`` it fails.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.metrics import delivery_outcome
from apps.notifications import pacing
from apps.notifications.models import Delivery, DeliveryStatus, Destination
from apps.notifications.report_builder import report_for
from apps.notifications.transports import notifier_for
from apps.notifications.transports.base import Sent, TransportError

logger = logging.getLogger(__name__)

# The longest a task sleeps for its pacing slot; beyond it the task is rescheduled.
PACING_MAX_WAIT_SECONDS = 20.0
OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
EARLY = timedelta(seconds=1)


def _in_process() -> bool:
    """True when tasks run in this process (no broker: the embedded default)."""
    return bool(current_app.conf.task_always_eager)


def delivery_enqueue(delivery_id: int, *, countdown: float = 0) -> None:
    """Schedule an attempt. Without a broker (embedded default) it runs now, in
    process, unless it is a retry: those wait for the sweeper, which runs them once
    they are due (an in-process task would ignore the countdown)."""
    from apps.notifications.tasks import deliver

    if _in_process() and countdown > 0:
        return
    try:
        deliver.apply_async((delivery_id,), countdown=max(0.0, countdown))
    except Exception:  # broker down: the row stays pending and the sweeper sends it
        logger.exception("could not enqueue delivery %s", delivery_id)


def delivery_attempt(*, delivery_id: int) -> str:
    """Run one attempt of a delivery. Returns what happened: ``sent``, ``retry``,
    ``failed``, or ``skipped`` (already done, claimed by another worker, not due),
    and counts it by destination kind (``kiroku_notification_deliveries_total``)."""
    delivery = Delivery.objects.select_related("destination").filter(pk=delivery_id).first()
    if delivery is None:
        return "skipped"
    outcome = _attempt(delivery)
    delivery_outcome(kind=delivery.destination.kind, outcome=outcome)
    return outcome


def _attempt(delivery: Delivery) -> str:
    delivery_id = delivery.pk
    if delivery.status not in OPEN_STATUSES:
        return "skipped"
    notifier = notifier_for(delivery.destination)
    pace_key = notifier.pace_key()
    if pace_key is not None:
        later = pacing.wait_for_slot(
            pace_key,
            per_second=settings.KIROKU_SLACK_MESSAGES_PER_SECOND,
            max_wait=PACING_MAX_WAIT_SECONDS,
        )
        if later is not None:
            _postpone(delivery, seconds=later)
            return "skipped"
    claimed = _claim(delivery_id)
    if claimed is None:
        return "skipped"
    delivery = claimed
    destination = delivery.destination
    if destination.is_broken:
        _finish(
            delivery,
            status=DeliveryStatus.FAILED,
            error=f"destination_broken: {destination.broken_reason}",
        )
        return "failed"
    try:
        report = report_for(delivery)
        sent = notifier.send(delivery, report)
    except TransportError as exc:
        if exc.permanent and exc.destination_ok:
            _finish(delivery, status=DeliveryStatus.FAILED, error=exc.code)
            return "failed"
        if exc.permanent:
            _fail_permanently(delivery, code=exc.code)
            return "failed"
        return _retry_or_fail(delivery, code=exc.code, retry_after=exc.retry_after)
    except Exception as exc:  # a bug, or an error no notifier expected: retry, keep the code
        logger.exception("delivery %s failed unexpectedly", delivery_id)
        return _retry_or_fail(
            delivery, code=f"internal_error: {type(exc).__name__}", retry_after=None
        )
    _record_sent(delivery, sent)
    return "sent"


def _claim(delivery_id: int) -> Delivery | None:
    stuck_before = timezone.now() - timedelta(seconds=settings.KIROKU_NOTIFY_STUCK_AFTER_SECONDS)
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("destination", "project")
            .filter(pk=delivery_id, status__in=OPEN_STATUSES)
            .first()
        )
        if delivery is None:
            return None
        if delivery.status == DeliveryStatus.SENDING and delivery.updated_at > stuck_before:
            return None  # another worker is sending it now
        now = timezone.now()
        if delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at > now + EARLY:
            return None  # an early duplicate task; the one scheduled for later will come

        delivery.status = DeliveryStatus.SENDING
        delivery.attempts += 1
        delivery.updated_at = now
        delivery.save(update_fields=["status", "attempts", "updated_at"])
    return delivery


def _record_sent(delivery: Delivery, sent: Sent) -> None:
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENT,
        remote_id=sent.remote_id[:100],
        thread_ts=sent.thread_ts[:100],
        last_error="",
        sent_at=now,
        updated_at=now,
    )


def _finish(delivery: Delivery, *, status: str, error: str) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status, last_error=error[:500], updated_at=timezone.now()
    )


def _fail_permanently(delivery: Delivery, *, code: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        _finish(delivery, status=DeliveryStatus.FAILED, error=code)
        Destination.objects.filter(pk=delivery.destination_id, broken_at__isnull=True).update(
            broken_at=now, broken_reason=code[:500], updated_at=now
        )


def backoff_seconds(attempts: int) -> float:
    """Capped exponential backoff with full jitter in its upper half."""
    base = settings.KIROKU_NOTIFY_BACKOFF_SECONDS * 2 ** max(0, attempts - 1)
    capped = min(float(settings.KIROKU_NOTIFY_BACKOFF_CAP_SECONDS), base)
    return capped / 2 + random.uniform(0, capped / 2)


def _retry_or_fail(delivery: Delivery, *, code: str, retry_after: float | None) -> str:
    if delivery.attempts >= settings.KIROKU_NOTIFY_MAX_ATTEMPTS:
        _finish(
            delivery,
            status=DeliveryStatus.FAILED,
            error=f"{code} (gave up after {delivery.attempts} attempts)",
        )
        return "failed"
    delay = backoff_seconds(delivery.attempts)
    if retry_after is not None:
        delay = max(delay, retry_after)  # the remote's word wins over our cap
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING,
        last_error=code[:500],
        next_attempt_at=now + timedelta(seconds=delay),
        updated_at=now,
    )
    delivery_enqueue(delivery.pk, countdown=delay)
    return "retry"


def _postpone(delivery: Delivery, *, seconds: float) -> None:
    """Come back when the pacing queue has room; not an attempt."""
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
        next_attempt_at=timezone.now() + timedelta(seconds=seconds)
    )
    delivery_enqueue(delivery.pk, countdown=seconds)


def delivery_sweep(*, limit: int = 500) -> int:
    """Re-enqueue deliveries left behind: pending ones whose attempt is overdue (the
    enqueue failed: broker down; or, without a broker, a retry now due) and ``sending``
    ones whose worker was lost. Returns how many were enqueued."""
    now = timezone.now()
    stuck = timedelta(seconds=settings.KIROKU_NOTIFY_STUCK_AFTER_SECONDS)
    # With a broker, a pending row has a task waiting for it until next_attempt_at;
    # only one overdue by the stuck margin lost it.
    overdue = now if _in_process() else now - stuck
    ids = list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=overdue)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    ids += list(
        Delivery.objects.filter(status=DeliveryStatus.SENDING, updated_at__lte=now - stuck)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in ids:
        delivery_enqueue(delivery_id)
    return len(ids)
