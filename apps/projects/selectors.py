"""Reads of projects and memberships, always scoped to what the principal may read."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.principal import Principal
from apps.core.errors import not_found
from apps.projects.access import require_role, role_for
from apps.projects.models import Membership, Project, Role


def project_list_for_principal(*, principal: Principal) -> QuerySet[Project]:
    projects = Project.objects.alive().order_by("slug")
    token = principal.service_token
    if token is not None:
        return projects.filter(pk=token.project_id)
    if principal.is_staff or principal.is_system:
        return projects
    if principal.person is None:
        return projects.none()
    return projects.filter(memberships__user=principal.person)


def project_get_for_principal(
    *, principal: Principal, slug: str, needed: Role = Role.VIEWER, allow_deleted: bool = False
) -> Project:
    """The project, or NotFound when it does not exist or the principal may not read
    it (the same answer for both); Forbidden when readable but ``needed`` is higher."""
    project = Project.objects.filter(slug=slug).first()
    if project is None:
        raise not_found("project")
    if project.deleted_at is not None:
        # Only admins learn that a deleted project exists (to restore it).
        role = role_for(principal, project, allow_deleted=allow_deleted)
        if role is None or role < Role.ADMIN:
            raise not_found("project")
    require_role(principal, project, needed, allow_deleted=allow_deleted)
    return project


def member_list(*, project: Project) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(project=project).select_related("user").order_by("user__username")
    )
