"""Where a Slack follow-up goes: the thread of the first message about the same run."""

from __future__ import annotations

from apps.notifications.models import Delivery, DeliveryStatus


def thread_root(delivery: Delivery) -> str | None:
    """The ts of the first message sent to ``delivery``'s destination about the same run
    (its thread's root), or None when this is the first one (or not about a run)."""
    if delivery.run_id is None:
        return None
    earlier = (
        Delivery.objects.filter(
            destination_id=delivery.destination_id,
            run_id=delivery.run_id,
            status=DeliveryStatus.SENT,
            created_at__lte=delivery.created_at,
        )
        .exclude(pk=delivery.pk)
        .exclude(remote_id="")
        .order_by("created_at", "pk")
        .values_list("thread_ts", "remote_id")
        .first()
    )
    if earlier is None:
        return None
    thread_ts, remote_id = earlier
    return thread_ts or remote_id
