"""Reads of destinations, rules and the delivery log, for the project's admins.

A destination or rule of a project the principal cannot read is NotFound, exactly as
a missing one; one of a project it reads without the admin role is Forbidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from apps.accounts.principal import Principal
from apps.core.errors import Invalid, not_found
from apps.core.ids import id_parse
from apps.notifications.models import Delivery, DeliveryStatus, Destination, Rule
from apps.projects.access import require_role
from apps.projects.models import Project, Role
from apps.runs.models import Run

DELIVERIES_MAX_PAGE = 200


def _int_id(value: str | int, what: str) -> int:
    pk = id_parse(value)
    if pk is None:
        raise not_found(what)
    return pk


def destination_list(*, principal: Principal, project: Project) -> QuerySet[Destination]:
    """The project's destinations by name (admins)."""
    require_role(principal, project, Role.ADMIN)
    return Destination.objects.filter(project=project).order_by("name", "pk")


def destination_get_for_principal(
    *, principal: Principal, destination_id: str | int, needed: Role = Role.ADMIN
) -> Destination:
    destination = (
        Destination.objects.select_related("project")
        .filter(pk=_int_id(destination_id, "destination"), project__deleted_at__isnull=True)
        .first()
    )
    if destination is None:
        raise not_found("destination")
    require_role(principal, destination.project, needed, what="destination")
    return destination


def destination_get_in_project(*, project: Project, destination_id: str) -> Destination:
    """The project's destination with this id, or NotFound (also for an id that is no
    database id, and for one of another project). The caller has checked that the
    principal is an admin of the project."""
    destination = Destination.objects.filter(
        pk=_int_id(destination_id, "destination"), project=project
    ).first()
    if destination is None:
        raise not_found("destination")
    destination.project = project
    return destination


def rule_list(*, principal: Principal, project: Project) -> QuerySet[Rule]:
    """The project's rules, oldest first, with their destinations (admins)."""
    require_role(principal, project, Role.ADMIN)
    return Rule.objects.filter(project=project).select_related("destination").order_by("pk")


def rule_get_for_principal(
    *, principal: Principal, rule_id: str | int, needed: Role = Role.ADMIN
) -> Rule:
    rule = (
        Rule.objects.select_related("project", "destination")
        .filter(pk=_int_id(rule_id, "rule"), project__deleted_at__isnull=True)
        .first()
    )
    if rule is None:
        raise not_found("rule")
    require_role(principal, rule.project, needed, what="rule")
    return rule


def rule_get_in_project(*, project: Project, rule_id: str) -> Rule:
    """The project's rule with this id and its destination, or NotFound (also for an
    id that is no database id, and for one of another project). The caller has
    checked that the principal is an admin of the project."""
    rule = (
        Rule.objects.select_related("destination")
        .filter(pk=_int_id(rule_id, "rule"), project=project)
        .first()
    )
    if rule is None:
        raise not_found("rule")
    rule.project = project
    return rule


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[Delivery]
    # The position after the last row, for the next (older) page; None on the last page.
    next_before: tuple[datetime, int] | None
    # Run id -> public id, for the runs that still exist.
    run_public_ids: dict[int, str]


def delivery_list(
    *,
    principal: Principal,
    project: Project,
    status: str | None = None,
    before: tuple[datetime, int] | None = None,
    limit: int = 50,
) -> DeliveryPage:
    """One page of the project's deliveries, newest first (admins), optionally with
    one ``status``; ``before`` is the previous page's ``next_before`` (keyset, so a
    deep page costs what the first does)."""
    require_role(principal, project, Role.ADMIN)
    if not 1 <= limit <= DELIVERIES_MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {DELIVERIES_MAX_PAGE}", field="limit")
    rows = Delivery.objects.filter(project=project)
    if status is not None:
        if status not in DeliveryStatus.values:
            raise Invalid(
                f"status must be one of: {', '.join(DeliveryStatus.values)}", field="status"
            )
        rows = rows.filter(status=status)
    if before is not None:
        created_at, pk = before
        rows = rows.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
    page = list(rows.order_by("-created_at", "-pk")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    run_ids = {d.run_id for d in page if d.run_id is not None}
    public_ids = dict(
        Run.objects.filter(pk__in=run_ids, project=project).values_list("pk", "public_id")
    )
    next_before = (page[-1].created_at, page[-1].pk) if more else None
    return DeliveryPage(deliveries=page, next_before=next_before, run_public_ids=public_ids)
