"""How destinations, rules and deliveries look on the wire: each output function
returns a TypedDict, which the OpenAPI schema documents (apps.core.schema). A
destination's token is never in it: only its masked hint."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, NotRequired, TypedDict

from apps.notifications import catalog
from apps.notifications.models import (
    Delivery,
    DeliveryStatus,
    Destination,
    DestinationKind,
    Rule,
)


class DestinationBrokenOut(TypedDict):
    reason: Annotated[str, "the remote's error code (`channel_not_found`, `invalid_auth`…)"]
    at: datetime


class DestinationOut(TypedDict):
    """A Slack channel or Notion database that rules post to."""

    id: int
    kind: Annotated[str, DestinationKind]
    name: str
    target: Annotated[str, "the Slack channel's id or the Notion database's id"]
    token_hint: Annotated[str, "the token's kind prefix and last four characters"]
    broken: Annotated[
        DestinationBrokenOut | None,
        "why sending stopped for good, until a new token or target; null while it works",
    ]
    created_at: datetime


class DestinationTestOut(TypedDict):
    ok: bool
    error: NotRequired[Annotated[str, "when not ok: the error code only"]]


class RuleOut(TypedDict):
    """When to post to a destination: on which event, under what condition, for which
    runs, and how often at most."""

    id: int
    event: Annotated[str, "one of: " + ", ".join(catalog.RULE_EVENTS)]
    destination: Annotated[int, "the destination's id"]
    condition: dict[str, Any]
    filters: dict[str, Any]
    cooldown: Annotated[int, "seconds between two messages of this rule"]
    enabled: bool
    last_fired_at: datetime | None
    created_at: datetime


class DeliveryOut(TypedDict):
    """One message Kiroku owes or sent."""

    id: int
    rule: Annotated[int | None, "the rule's id; null once the rule is deleted"]
    destination: int
    event: str
    run_id: str | None
    status: Annotated[str, DeliveryStatus]
    attempts: int
    last_error: str
    remote_id: Annotated[str, "the Slack message's ts or the Notion page's id, once sent"]
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime


def destination_out(destination: Destination) -> DestinationOut:
    broken: DestinationBrokenOut | None = None
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


def rule_out(rule: Rule) -> RuleOut:
    # Field by field, not **rule.admin_settings() (the audit log's): the answer stays
    # what RuleOut documents if the audited settings grow.
    return {
        "id": rule.pk,
        "event": rule.event,
        "destination": rule.destination_id,
        "condition": rule.condition,
        "filters": rule.filters,
        "cooldown": rule.cooldown_seconds,
        "enabled": rule.enabled,
        "last_fired_at": rule.last_fired_at,
        "created_at": rule.created_at,
    }


def delivery_out(delivery: Delivery, *, run_public_ids: dict[int, str]) -> DeliveryOut:
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
