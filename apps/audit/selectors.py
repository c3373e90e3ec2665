"""Reads of the audit log. The caller checks the admin role first."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from apps.audit import registry
from apps.audit.models import AuditEvent
from apps.core.errors import Invalid
from apps.projects.models import Project


def audit_list_for_project(
    *,
    project: Project,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
) -> QuerySet[AuditEvent]:
    """Newest first. ``action`` is an exact name or a prefix ending in ``.`` or ``.*``
    (``run.*``); ``actor`` matches the actor's label or, for tokens, the owner's."""
    events = AuditEvent.objects.filter(project_id=project.pk)
    if action:
        prefix = action[:-1] if action.endswith(".*") else action
        if prefix.endswith("."):
            if not any(name.startswith(prefix) for name in registry.names()):
                raise Invalid(f"no audit action starts with {prefix!r}", field="action")
            events = events.filter(action__startswith=prefix)
        else:
            if action not in registry.names():
                raise Invalid(
                    f"unknown action {action!r}; known: {', '.join(registry.names())}",
                    field="action",
                )
            events = events.filter(action=action)
    if actor:
        events = events.filter(Q(actor_label=actor) | Q(actor_user_label=actor))
    if since is not None:
        events = events.filter(created_at__gte=since)
    if until is not None:
        events = events.filter(created_at__lt=until)
    if before_id is not None:
        events = events.filter(pk__lt=before_id)
    return events.order_by("-pk")
