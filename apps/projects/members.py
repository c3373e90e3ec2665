"""Who is in a project: adding members (one write path for the API, the portal,
invitations and, later, single sign-on), changing roles, removing them. A project
always keeps at least one admin."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.accounts.models import User
from apps.accounts.principal import Principal
from apps.audit import registry as audit_actions
from apps.audit.services import audit_record
from apps.core.errors import Conflict, Invalid, not_found
from apps.projects.access import require_role
from apps.projects.models import Membership, Project, Role


def _admin_count(project: Project) -> int:
    """How many admins the project has, locking their rows so two concurrent
    demotions cannot both pass the last-admin check."""
    return len(
        Membership.objects.select_for_update()
        .filter(project=project, role=Role.ADMIN)
        .values_list("pk", flat=True)
    )


def member_add(*, principal: Principal, project: Project, username: str, role: Role) -> Membership:
    """Add an active user by username (the API and the portal's settings page). Needs
    the admin role; Invalid when no active user has that name, Conflict when they are
    already a member."""
    require_role(principal, project, Role.ADMIN)
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise Invalid(f"no user named '{username}'", field="username")
    with transaction.atomic():
        membership, added = membership_grant(
            principal=principal, project=project, user=user, role=role
        )
        if not added:
            raise Conflict(
                f"'{username}' is already a member; change the role with PATCH", field="username"
            )
    return membership


def membership_grant(
    *,
    principal: Principal,
    project: Project,
    user: User,
    role: Role,
    context: dict[str, Any] | None = None,
) -> tuple[Membership, bool]:
    """The one write that makes someone a member: the membership and its ``member.add``
    audit entry (with ``context``, e.g. the invitation that granted it), in the
    caller's transaction. Returns ``(membership, added)``; a user who is already a
    member keeps their role and nothing is written (``added`` is False).

    It checks no permission: the caller has established the right to grant (the admin
    role in ``member_add``, a claimed invitation in ``apps.projects.invitations``)."""
    with transaction.atomic():
        membership, added = Membership.objects.get_or_create(
            project=project, user=user, defaults={"role": role}
        )
        if added:
            audit_record(
                principal=principal,
                action=audit_actions.MEMBER_ADD,
                project=project,
                target_type="user",
                target_id=user.pk,
                target_label=user.username,
                metadata={"role": Role(role).label, **(context or {})},
            )
    return membership, added


def _membership_for(project: Project, username: str) -> Membership:
    membership = (
        Membership.objects.select_related("user")
        .filter(project=project, user__username=username)
        .first()
    )
    if membership is None:
        raise not_found("member")
    return membership


def member_role_change(
    *, principal: Principal, project: Project, username: str, role: Role
) -> Membership:
    require_role(principal, project, Role.ADMIN)
    with transaction.atomic():
        membership = _membership_for(project, username)
        if membership.role == role:
            return membership
        if membership.role == Role.ADMIN and _admin_count(project) == 1:
            raise Conflict(
                "a project keeps at least one admin; promote another first", field="role"
            )
        before = Role(membership.role).label
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            principal=principal,
            action=audit_actions.MEMBER_ROLE_CHANGE,
            project=project,
            target_type="user",
            target_id=membership.user_id,
            target_label=membership.user.username,
            metadata={"before": before, "after": Role(role).label},
        )
    return membership


def member_remove(*, principal: Principal, project: Project, username: str) -> None:
    require_role(principal, project, Role.ADMIN)
    with transaction.atomic():
        membership = _membership_for(project, username)
        if membership.role == Role.ADMIN and _admin_count(project) == 1:
            raise Conflict(
                "a project keeps at least one admin; promote another first", field="username"
            )
        audit_record(
            principal=principal,
            action=audit_actions.MEMBER_REMOVE,
            project=project,
            target_type="user",
            target_id=membership.user_id,
            target_label=membership.user.username,
            metadata={"role": Role(membership.role).label},
        )
        membership.delete()
