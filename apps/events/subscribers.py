"""Who hears about domain events.

A subscriber is a callable taking a ``DomainEvent``. It must be idempotent: an event
whose dispatch failed part-way is handed to every subscriber again on retry.
Apps register theirs in ``AppConfig.ready``; the event types and their payloads are
in ``apps.events.registry``.
"""

from __future__ import annotations

from collections.abc import Callable

from apps.events.models import DomainEvent

Subscriber = Callable[[DomainEvent], None]

_SUBSCRIBERS: list[tuple[str, Subscriber]] = []


def subscribe(event_type: str, handler: Subscriber) -> None:
    """``event_type`` is an exact type (``run.finished``), a prefix (``run.*``) or ``*``."""
    _SUBSCRIBERS.append((event_type, handler))


def unsubscribe(handler: Subscriber) -> None:
    _SUBSCRIBERS[:] = [(t, h) for t, h in _SUBSCRIBERS if h is not handler]


def subscribers_for(event_type: str) -> list[Subscriber]:
    matched = []
    for pattern, handler in _SUBSCRIBERS:
        if (
            pattern == "*"
            or pattern == event_type
            or (pattern.endswith(".*") and event_type.startswith(pattern[:-1]))
        ):
            matched.append(handler)
    return matched
