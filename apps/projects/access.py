"""Who may do what in a project. The one place roles are decided.

viewer < member < admin. Viewers read and comment; members also create and edit
runs; admins also manage members and tokens, delete and restore runs, and read the
audit log. Site staff act as admin everywhere. A service token acts only on its own
project, with its own role, and never as its creator: whether a comment, a link or a
token is "one's own" is decided by ``Principal.owns`` alone.
"""

from __future__ import annotations

from apps.accounts.principal import Principal
from apps.core.errors import Forbidden, not_found
from apps.projects.models import Membership, Project, Role


def role_for(principal: Principal, project: Project, *, allow_deleted: bool = False) -> Role | None:
    """The principal's role in the project, or None when it may not even read it.

    A soft-deleted project has no roles except for staff, unless ``allow_deleted``
    (used only to restore it).
    """
    if principal.is_system:
        return Role.ADMIN
    if project.deleted_at is not None and not allow_deleted:
        return Role.ADMIN if principal.is_staff else None
    token = principal.service_token
    if token is not None:
        # A service token always has a role (apps.projects.tokens.token_create).
        return Role(token.role) if token.project_id == project.pk and token.role else None
    if principal.is_staff:
        return Role.ADMIN
    person = principal.person
    if person is None:
        return None
    cache = getattr(project, "_role_cache", None)
    if cache is not None and person.pk in cache:
        return cache[person.pk]
    role = (
        Membership.objects.filter(project=project, user=person)
        .values_list("role", flat=True)
        .first()
    )
    resolved = Role(role) if role is not None else None
    project._role_cache = {**(cache or {}), person.pk: resolved}
    return resolved


def require_role(
    principal: Principal,
    project: Project,
    needed: Role,
    *,
    what: str = "project",
    allow_deleted: bool = False,
) -> Role:
    """Raise NotFound when the principal cannot read the project, Forbidden when it can
    read but its role is below ``needed``. Returns the principal's role."""
    role = role_for(principal, project, allow_deleted=allow_deleted)
    if role is None:
        raise not_found(what)
    if role < needed:
        raise Forbidden(f"this needs the {needed.label} role in project '{project.slug}'")
    return role
