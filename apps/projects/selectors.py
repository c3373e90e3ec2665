"""Reads of projects and memberships, always scoped to what the principal may read."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from apps.accounts.models import ApiToken, Invitation, TokenKind, User
from apps.accounts.principal import Principal
from apps.core.errors import not_found
from apps.core.ids import id_parse
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


def token_list_personal(*, user: User) -> QuerySet[ApiToken]:
    """The user's own personal tokens (revoked and expired ones too), newest first."""
    return ApiToken.objects.filter(user=user, kind=TokenKind.PERSONAL).order_by("-created_at")


def token_get_personal(*, user: User, token_id: str) -> ApiToken:
    """One of the user's own personal tokens, or NotFound (also for an id that is no
    database id, and for anyone else's token or a service token)."""
    return _token_get(token_id, user=user, kind=TokenKind.PERSONAL)


def token_list_for_project(*, project: Project) -> QuerySet[ApiToken]:
    """The project's service tokens (revoked and expired ones too) with their creators,
    newest first. The caller has checked that the principal is an admin of the
    project."""
    return (
        ApiToken.objects.filter(project=project, kind=TokenKind.SERVICE)
        .select_related("user")
        .order_by("-created_at", "-pk")
    )


def token_get_for_project(*, project: Project, token_id: str) -> ApiToken:
    """One of the project's service tokens, or NotFound (also for an id that is no
    database id, and for a token of anything else). The caller has checked that the
    principal is an admin of the project."""
    return _token_get(token_id, project=project, kind=TokenKind.SERVICE)


def _token_get(token_id: str, **scope: Any) -> ApiToken:
    """The token with this id among those ``scope`` filters, or NotFound."""
    pk = id_parse(token_id)
    token = ApiToken.objects.filter(pk=pk, **scope).first() if pk is not None else None
    if token is None:
        raise not_found("token")
    return token


def invitation_get(*, invitation_id: str) -> Invitation:
    """The invitation with this id, whatever its state, or NotFound (also for an id
    that is no database id). For site admins: the caller has checked that the
    principal is staff."""
    pk = id_parse(invitation_id)
    invitation = Invitation.objects.filter(pk=pk).first() if pk is not None else None
    if invitation is None:
        raise not_found("invitation")
    return invitation
