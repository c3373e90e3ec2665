"""Reads of the portal's own state: column choices and saved views. The caller has
checked that the principal may read the project."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import User
from apps.core.errors import not_found
from apps.core.ids import id_parse
from apps.portal.models import ColumnChoice, SavedView
from apps.projects.models import Project


def saved_view_list(*, project: Project) -> QuerySet[SavedView]:
    """The project's saved views, by name."""
    return SavedView.objects.filter(project=project)


def saved_view_get_in_project(*, project: Project, view_id: str) -> SavedView:
    """The project's saved view with this id, or NotFound (also for an id that is no
    database id, and for a view of another project)."""
    pk = id_parse(view_id)
    view = SavedView.objects.filter(project=project, pk=pk).first() if pk is not None else None
    if view is None:
        raise not_found("saved view")
    return view


def column_choice_get(*, user: User, project: Project) -> ColumnChoice | None:
    """The columns ``user`` last chose for the project's runs table, or None."""
    return ColumnChoice.objects.filter(user=user, project=project).first()
