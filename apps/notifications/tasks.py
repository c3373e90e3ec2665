"""Celery tasks: thin wrappers over the delivery engine."""

from __future__ import annotations

from celery import shared_task

from apps.notifications.services.deliveries import delivery_attempt, delivery_sweep


@shared_task(
    name="notifications.deliver",
    acks_late=True,
    # A lost worker's message is redelivered; the engine's claim and the notifiers'
    # duplicate checks make that safe.
    reject_on_worker_lost=True,
    # Several remote calls (duplicate check, post, Notion appends), each with its own
    # timeout, plus at most the pacing wait.
    time_limit=180,
    soft_time_limit=150,
    max_retries=0,  # the engine schedules its own retries (Retry-After, backoff)
)
def deliver(delivery_id: int) -> str:
    return delivery_attempt(delivery_id=delivery_id)


@shared_task(name="notifications.sweep", time_limit=120, soft_time_limit=100, max_retries=0)
def sweep() -> int:
    return delivery_sweep()
