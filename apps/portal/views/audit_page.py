"""A project's audit log, for its admins: filters (action or action prefix, actor,
target, time range), pages newest first with "Older" and "Newest" links (keyset by id:
a page deep in a log of millions costs what the first does), and links to the API's
CSV and JSON-lines exports with the same filters.

Each row shows the labels written with the event (the actor's name at the time, the
target's label), never today's user or run rows: an event outlives both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse

from apps.audit import registry
from apps.audit.models import ActorType, AuditEvent
from apps.audit.selectors import AuditPage, audit_list_for_project, audit_page
from apps.core.errors import Invalid
from apps.core.times import time_clean
from apps.portal.views.base import PortalView
from apps.projects.models import Role

PAGE_SIZE = 50
FILTERS = ("action", "actor", "target_type", "target_id", "since", "until")


@dataclass(frozen=True)
class Row:
    event: AuditEvent
    text: str  # what was done: the registry's sentence without its actor
    via_token_of: str  # for a token actor: the owner's name at the time


def _row(event: AuditEvent) -> Row:
    actor = event.actor_label or "someone"
    target = event.target_label or event.target_id
    try:
        template = registry.get(event.action).template
    except KeyError:  # an action no longer registered: its name says enough
        text = f"{event.action} {target}".strip()
    else:
        # The Actor column names who did it (a token's label is long), so the sentence
        # starts at the verb: "created run resnet", not the label a second time.
        text = template.removeprefix("{actor} ").format(actor=actor, target=target)
    owner = event.actor_user_label if event.actor_type == ActorType.TOKEN else ""
    return Row(event=event, text=text, via_token_of=owner)


def action_choices() -> list[tuple[str, list[str]]]:
    """The registered actions grouped by prefix: [("run", ["run.create", …]), …]."""
    groups: dict[str, list[str]] = {}
    for name in registry.names():
        groups.setdefault(name.split(".", 1)[0], []).append(name)
    return sorted(groups.items())


def _time(value: str, field: str) -> datetime | None:
    # A datetime-local input sends "2026-01-31T12:00" with no zone: the page says UTC.
    return time_clean(value or None, field=field)


def _before(value: str) -> int | None:
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        raise Invalid("before must be an event id, as the Older link gives it", field="before")
    return int(value)


class AuditPageView(PortalView):
    access = Role.ADMIN

    def get(self, request, slug: str) -> HttpResponse:
        filters = {name: request.GET.get(name, "").strip() for name in FILTERS}
        page, error, error_field = AuditPage(events=[], next_before=None), None, None
        before = None
        try:
            for name, value in filters.items():
                if "\x00" in value:  # PostgreSQL refuses it in a query; so does the API
                    raise Invalid(f"{name} must not contain NUL characters", field=name)
            before = _before(request.GET.get("before", "").strip())
            events = audit_list_for_project(
                project=self.project,
                action=filters["action"] or None,
                actor=filters["actor"] or None,
                target_type=filters["target_type"] or None,
                target_id=filters["target_id"] or None,
                since=_time(filters["since"], "since"),
                until=_time(filters["until"], "until"),
                before_id=before,
            )
            page = audit_page(events, size=PAGE_SIZE)
        except Invalid as exc:
            error, error_field = exc.message, exc.field
        export = reverse("project-audit-export", kwargs={"slug": self.project.slug})
        groups = action_choices()
        known = {value for prefix, names in groups for value in [f"{prefix}.*", *names]}
        context: dict[str, Any] = {
            "project": self.project,
            "filters": filters,
            "blank": {},  # the base of a link that drops every filter
            "filtered": any(filters.values()),
            "groups": groups,
            # A value typed into the URL (``run.``) stays selected rather than vanishing.
            "other_action": filters["action"] if filters["action"] not in known else "",
            "rows": [_row(event) for event in page.events],
            "before": before,
            "next_before": page.next_before,
            "error": error,
            "error_field": error_field,
            "export_url": export,
            "page_size": PAGE_SIZE,
        }
        return render(request, "portal/audit.html", context, status=400 if error else 200)
