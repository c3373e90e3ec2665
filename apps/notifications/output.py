"""How destinations, rules and deliveries look on the wire. A destination's token is
never in it: only its masked hint."""

from __future__ import annotations

from typing import Any

from apps.notifications.models import Delivery, Destination, Rule


def destination_out(destination: Destination) -> dict[str, Any]:
    broken = None
    if destination.broken_at is not None:
        broken = {"reason": destination.broken_reason, "at": destination.broken_at}
    return {
        "id": destination.pk,
        "kind": destination.kind,
        "name": destination.name,
        "target": destination.target,
        "token_hint": destination.credentials_hint,
        "broken": broken,
        "created_at": destination.created_at,
    }


def rule_out(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        **rule.admin_settings(),
        "last_fired_at": rule.last_fired_at,
        "created_at": rule.created_at,
    }


def delivery_out(delivery: Delivery, *, run_public_ids: dict[int, str]) -> dict[str, Any]:
    return {
        "id": delivery.pk,
        "rule": delivery.rule_id,
        "destination": delivery.destination_id,
        "event": delivery.event_type,
        "run_id": run_public_ids.get(delivery.run_id) if delivery.run_id is not None else None,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "remote_id": delivery.remote_id,
        "created_at": delivery.created_at,
        "sent_at": delivery.sent_at,
        "next_attempt_at": delivery.next_attempt_at,
    }
