"""Connects the notifications app to the domain-event outbox."""

from __future__ import annotations

from apps.events.models import DomainEvent
from apps.events.subscribers import subscribe, unsubscribe
from apps.notifications.catalog import RULES_FOR_DOMAIN_EVENT


def _handle(event: DomainEvent) -> None:
    from apps.notifications.services.dispatch import deliveries_for_event

    deliveries_for_event(event)


def connect() -> None:
    """Subscribe once per process (``AppConfig.ready`` may run more than once in tests)."""
    unsubscribe(_handle)
    for event_type in RULES_FOR_DOMAIN_EVENT:
        subscribe(event_type, _handle)
