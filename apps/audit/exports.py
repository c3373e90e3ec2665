"""An audit event as the API shows it, and the log as CSV or JSON lines, produced a
chunk at a time (apps.audit.selectors.audit_chunks) for a streaming response."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, TypedDict

from django.db.models import QuerySet

from apps.audit.models import ActorType, AuditEvent
from apps.audit.selectors import audit_chunks
from apps.core.renderers import StrictJSONRenderer

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/jsonl; charset=utf-8",
}

CSV_COLUMNS = [
    "id",
    "created_at",
    "action",
    "actor_type",
    "actor_label",
    "actor_user",
    "target_type",
    "target_id",
    "target_label",
    "ip",
    "user_agent",
    "metadata",
]


class EventActorOut(TypedDict):
    """Who acted, as recorded then (labels survive the actor's deletion)."""

    type: Annotated[str, ActorType]
    id: Annotated[str, "the user's, token's or share link's id; empty for the system"]
    label: Annotated[str, "a username, `system`, a token's `name (prefix…)`, a share link"]
    user: Annotated[str | None, "the username behind a token; null for none"]


class EventTargetOut(TypedDict):
    """What the action was done to."""

    type: Annotated[str, "`run`, `project`, `user`, `token`, … (empty for none)"]
    id: str
    label: str


class EventOut(TypedDict):
    """One audit event."""

    id: Annotated[int, "grows with time; the log is newest first by id"]
    created_at: datetime
    action: Annotated[str, "a registered dotted action, e.g. `run.delete`"]
    actor: EventActorOut
    project: Annotated[str, "the project's slug when the event was recorded"]
    target: EventTargetOut
    ip: str | None
    user_agent: str
    metadata: Annotated[dict[str, Any], "what the action records (its before/after, …)"]


def event_out(event: AuditEvent) -> EventOut:
    """One event as the JSON list and the JSON-lines export show it."""
    return {
        "id": event.pk,
        "created_at": event.created_at,
        "action": event.action,
        "actor": {
            "type": event.actor_type,
            "id": event.actor_id,
            "label": event.actor_label,
            "user": event.actor_user_label or None,
        },
        "project": event.project_label,
        "target": {"type": event.target_type, "id": event.target_id, "label": event.target_label},
        "ip": event.ip,
        "user_agent": event.user_agent,
        "metadata": event.metadata,
    }


def csv_safe(value: object) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet; quote it as text.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


def _csv_row(event: AuditEvent) -> list[str]:
    values = (
        event.pk,
        event.created_at.isoformat(),
        event.action,
        event.actor_type,
        event.actor_label,
        event.actor_user_label,
        event.target_type,
        event.target_id,
        event.target_label,
        event.ip,
        event.user_agent,
        event.metadata,
    )
    return [csv_safe(value) for value in values]


def csv_export(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """A header line, then one CSV row per event, a chunk of rows per string."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    for chunk in audit_chunks(events):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(_csv_row(event) for event in chunk)
        yield buffer.getvalue()


# U+2028 and U+2029 are legal inside JSON strings but split lines for some readers
# (Python's str.splitlines among them); escaped, each event stays on one line.
_LINE_SEPARATORS = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


_renderer = StrictJSONRenderer()


def jsonl_line(event: AuditEvent) -> bytes:
    # The API's own renderer, so a line is byte for byte an element of the JSON list.
    line = _renderer.render(event_out(event))
    for raw, escaped in _LINE_SEPARATORS:
        line = line.replace(raw, escaped)
    return line + b"\n"


def jsonl_export(events: QuerySet[AuditEvent]) -> Iterator[bytes]:
    """One JSON object per line (the fields of the JSON list), a chunk of lines per
    bytes object; nothing at all for an empty log."""
    for chunk in audit_chunks(events):
        yield b"".join(jsonl_line(event) for event in chunk)
