"""Reads of the audit log. The caller checks the admin role first.

A project's log is read newest first, by id, a keyset page at a time: a page is
``id < before ORDER BY id DESC LIMIT n``, never OFFSET and never a count, so a page
deep in a log of millions costs what the first does. Each filter has an index that
leads with the project (apps/audit/models.py); bench/README.md ("Audit") has the
figures and plans at 1,000,000 events.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Model, Q, QuerySet, Subquery

from apps.audit import registry
from apps.audit.models import AuditEvent
from apps.core.errors import Invalid

EXPORT_CHUNK = 2000
# created_at is stamped as the row is inserted (apps.audit.services.audit_record), so it
# grows with id but for clock skew between processes: two events further apart in
# time than this are in id order. Time filters lean on it to start at the right id.
TIME_SLACK = timedelta(minutes=10)


def audit_list_for_project(
    *,
    project: Model,
    action: str | None = None,
    actor: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
) -> QuerySet[AuditEvent]:
    """The project's events, newest (highest id) first. ``project`` is the project's
    row (``apps.projects.models.Project``; the log keeps only its id).

    ``action`` is an exact name or a prefix ending in ``.`` or ``.*`` (``run.*``);
    ``actor`` matches the actor's label (a username, ``system``, a token's
    ``name (prefix…)``) or, for tokens, the owner's username; ``target_type`` and
    ``target_id`` match exactly, alone or together; ``since`` is inclusive, ``until``
    exclusive; ``before_id`` keeps events older than that id (the keyset cursor).
    Raises Invalid (field ``action``) for an action or prefix nobody registered.

    With filters it first runs one query of index probes (and one more for a target id
    without a type) to learn where matches can start; when a probe shows that nothing
    can match, the answer is an empty queryset.
    """
    log = AuditEvent.objects.filter(project_id=project.pk)
    if before_id is not None:
        log = log.filter(pk__lt=before_id)
    events = log
    lead: tuple[str, ...] = ()  # the columns of the index that gives the page its order
    # Per filter without such an index: where its newest match can be, one probe each.
    newest: list[list[QuerySet[AuditEvent]]] = []
    if target_type and target_id:
        target = {"target_type": target_type, "target_id": target_id}
        events = events.filter(**_equal(target))
        lead = tuple(target)
    elif target_id:
        # The target index leads with the type; naming every type the project has
        # (a handful) lets it find one id without reading the whole log.
        types = _target_types(project.pk)
        events = events.filter(target_type__in=types, target_id=target_id)
        newest.append([_newest(log, target_type=kind, target_id=target_id) for kind in types])
    elif target_type:
        events = events.filter(target_type=target_type)
    if action:
        names = _action_names(action)
        if names == [action] and not lead:
            events = events.filter(**_equal({"action": action}))
            lead = ("action",)
        else:
            events = events.filter(action__in=names)
            newest.append([_newest(log, action=name) for name in names])
    if actor:
        events = events.filter(Q(actor_label=actor) | Q(actor_user_label=actor))
        newest.append([_newest(log, actor_label=actor), _newest(log, actor_user_label=actor)])
    everything = AuditEvent.objects.filter(project_id=project.pk)
    floor = ceiling = None
    if since is not None:
        events = events.filter(created_at__gte=since)
        # The latest event stamped well before ``since``: every match comes after it.
        floor = everything.filter(created_at__lt=since - TIME_SLACK).order_by("-created_at")
    if until is not None:
        events = events.filter(created_at__lt=until)
        # The earliest event stamped well after ``until``: every match comes before it.
        ceiling = everything.filter(created_at__gte=until + TIME_SLACK).order_by("created_at")
    probes = [probe for group in newest for probe in group]
    found = _first_ids(project, [*probes, floor, ceiling])
    floor_id, ceiling_id = found[-2:]
    if floor_id is not None:
        events = events.filter(pk__gt=floor_id)
    if ceiling_id is not None:
        events = events.filter(pk__lt=ceiling_id)
    # Each filter's newest match bounds the page from above: it starts there rather
    # than reading down from the top of the log to the first match.
    position = 0
    for group in newest:
        matches = [i for i in found[position : position + len(group)] if i is not None]
        position += len(group)
        if not matches:
            return events.none()
        events = events.filter(pk__lte=max(matches))
    return events.order_by(*lead, "-pk")


# Why ranges and probes: PostgreSQL plans a page from how many rows match, as if they
# were spread evenly over the log. For a value common long ago and absent since (a user
# who left, a retired token) it would read the log by id from the top, filtering,
# through most of a million rows. Written as a range, an equality is not folded out of
# ORDER BY, so only the filter's own index gives the order ``(column, id DESC)``; and a
# probe written that way finds the newest match in one index descent.
def _equal(values: dict[str, Any]) -> dict[str, Any]:
    """``column = value`` for each item, the last written as ``value <= column <= value``
    (a range on an earlier column would stop the index from seeking on the later ones)."""
    *first, (last, value) = values.items()
    return {**dict(first), f"{last}__gte": value, f"{last}__lte": value}


def _newest(log: QuerySet[AuditEvent], **values: Any) -> QuerySet[AuditEvent]:
    return log.filter(**_equal(values)).order_by(*values, "-pk")


def _first_ids(project: Model, queries: list[QuerySet[AuditEvent] | None]) -> list[int | None]:
    """The id of the first row of each query (None when it has none, or for a None
    query), all in one round trip."""
    columns = {
        f"q{i}": Subquery(query.values("pk")[:1])
        for i, query in enumerate(queries)
        if query is not None
    }
    if not columns:
        return [None] * len(queries)
    # The project's own row carries the subqueries: one row, whatever the filters.
    anchor = type(project)._base_manager.filter(pk=project.pk)
    row = anchor.annotate(**columns).values(*columns).first() or {}
    return [row.get(f"q{i}") for i in range(len(queries))]


def _action_names(action: str) -> list[str]:
    """The registered actions ``action`` names: itself, or those under its prefix."""
    prefix = action[:-1] if action.endswith(".*") else action
    if prefix.endswith("."):
        names = [name for name in registry.names() if name.startswith(prefix)]
        if not names:
            raise Invalid(f"no audit action starts with {prefix!r}", field="action")
        return names
    if action not in registry.names():
        raise Invalid(
            f"unknown action {action!r}; known: {', '.join(registry.names())}", field="action"
        )
    return [action]


def _target_types(project_id: int) -> list[str]:
    """The distinct target types in a project's log, by skipping along the target
    index (one probe per type) rather than reading every row."""
    sql = """
        WITH RECURSIVE types(name) AS (
            SELECT MIN(target_type) FROM audit_auditevent WHERE project_id = %s
            UNION ALL
            SELECT (SELECT MIN(target_type) FROM audit_auditevent
                    WHERE project_id = %s AND target_type > types.name)
            FROM types WHERE types.name IS NOT NULL
        )
        SELECT name FROM types WHERE name IS NOT NULL
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [project_id, project_id])
        return [row[0] for row in cursor.fetchall()]


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    # The ``before_id`` of the next (older) page; None on the last page.
    next_before: int | None


def audit_page(events: QuerySet[AuditEvent], *, size: int) -> AuditPage:
    """One page of ``events`` (from audit_list_for_project): reads ``size + 1`` rows to
    know whether an older page exists."""
    rows = list(events[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return AuditPage(events=rows, next_before=rows[-1].pk if more else None)


def audit_chunks(
    events: QuerySet[AuditEvent], *, chunk_size: int | None = None
) -> Iterator[list[AuditEvent]]:
    """All of ``events``, newest first, as lists of at most ``chunk_size``: one keyset
    query per chunk, so memory stays flat however long the log is and no cursor or
    transaction stays open between chunks. Events written after the first chunk are
    newer than it and not included."""
    chunk_size = chunk_size or EXPORT_CHUNK
    before: int | None = None
    while True:
        page = events if before is None else events.filter(pk__lt=before)
        chunk = list(page[:chunk_size])
        if chunk:
            yield chunk
        if len(chunk) < chunk_size:
            return
        before = chunk[-1].pk
