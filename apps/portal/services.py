"""Writes of the portal's own state: column choices and saved views."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.principal import Principal
from apps.core.errors import Conflict, Invalid
from apps.portal.models import ColumnChoice, SavedView
from apps.projects.access import require_role
from apps.projects.models import Project, Role
from apps.runs.columns import columns_parse
from apps.runs.search import parse_filter, parse_order_by

VIEW_NAME_MAX = 100


def column_choice_save(*, principal: Principal, project: Project, columns: str) -> None:
    """Remember ``columns`` (already valid) as the user's choice for the project. A
    principal that is no person (a service token) has no choices to remember: nothing
    is saved."""
    require_role(principal, project, Role.VIEWER)
    if principal.person is None:
        return
    ColumnChoice.objects.update_or_create(
        user=principal.person,
        project=project,
        defaults={"columns": columns, "updated_at": timezone.now()},
    )


def saved_view_create(
    *,
    principal: Principal,
    project: Project,
    name: str,
    filter: str,
    order_by: str,
    columns: str,
) -> SavedView:
    """Save a named view for the whole project (members). Raises Invalid for a bad
    name, filter, order or columns, Conflict when the name is taken."""
    require_role(principal, project, Role.MEMBER)
    name = name.strip()
    if not 1 <= len(name) <= VIEW_NAME_MAX:
        raise Invalid(f"name must be 1 to {VIEW_NAME_MAX} characters", field="name")
    parse_filter(filter)
    parse_order_by(order_by)
    columns_parse(columns)
    try:
        with transaction.atomic():
            return SavedView.objects.create(
                project=project,
                name=name,
                filter=filter,
                order_by=order_by,
                columns=columns,
                created_by=principal.person,
            )
    except IntegrityError:
        raise Conflict(f"a view named {name!r} exists in this project", field="name") from None


def saved_view_delete(*, principal: Principal, view: SavedView) -> None:
    """Delete a saved view: its creator (as themselves), or a project admin."""
    if not principal.owns(user_id=view.created_by_id):
        require_role(principal, view.project, Role.ADMIN)
    view.delete()
