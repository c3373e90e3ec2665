"""Issuing and revoking API tokens: personal tokens (act as their user) and project
service tokens (act for one project with a role). Here, in ``projects``, because a
service token's right to exist is a project admin's decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import ApiToken, TokenKind, User
from apps.accounts.principal import Principal
from apps.accounts.tokens import token_generate, token_hash
from apps.audit import registry as audit_actions
from apps.audit.services import audit_record
from apps.core.errors import Forbidden, Invalid, not_found
from apps.projects.access import require_role
from apps.projects.models import Project, Role

TOKEN_NAME_MAX = 100


@dataclass(frozen=True)
class CreatedToken:
    token: ApiToken
    secret: str  # shown once; only its hash is stored


def token_create(
    *,
    principal: Principal,
    owner: User,
    name: str,
    project: Project | None = None,
    role: Role | None = None,
    expires_at: datetime | None = None,
) -> CreatedToken:
    """Create a personal token (no project) or a project service token.

    A personal token may only be created by its owner, signed in as themselves (or
    staff); a service token never creates tokens (Forbidden). A service token needs
    the admin role in its project and a role of viewer or member; ``owner`` is
    recorded as its creator, who does not own it (it is the project's).
    """
    name = (name or "").strip()
    if not name or len(name) > TOKEN_NAME_MAX:
        raise Invalid(f"name must be 1 to {TOKEN_NAME_MAX} characters", field="name")
    if expires_at is not None and expires_at <= timezone.now():
        raise Invalid("expires_at must be in the future", field="expires_at")
    kind, role = _token_scope(principal=principal, owner=owner, project=project, role=role)
    secret = token_generate()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=owner,
            name=name,
            kind=kind,
            project=project,
            role=int(role) if role is not None else None,
            prefix=secret[:12],
            token_hash=token_hash(secret),
            expires_at=expires_at,
        )
        audit_record(
            principal=principal,
            action=audit_actions.TOKEN_CREATE,
            project=project,
            target_type="token",
            target_id=token.pk,
            target_label=f"{token.name} ({token.prefix}…)",
            metadata={
                "kind": kind,
                "owner": owner.username,
                "role": Role(role).label if role is not None else None,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return CreatedToken(token=token, secret=secret)


def _token_scope(
    *, principal: Principal, owner: User, project: Project | None, role: Role | None
) -> tuple[TokenKind, Role | None]:
    """The kind and role of a token ``principal`` may create, or the error that says
    why not (see ``token_create``)."""
    if project is None:
        if role is not None:
            raise Invalid("a role is only given to a project service token", field="role")
        if principal.service_token is not None:
            raise Forbidden("a service token cannot create tokens")
        if (
            not principal.is_system
            and not principal.is_staff
            and not principal.owns(user_id=owner.pk)
        ):
            raise not_found("user")
        return TokenKind.PERSONAL, None
    require_role(principal, project, Role.ADMIN)
    role = role if role is not None else Role.MEMBER
    if role > Role.MEMBER:
        raise Invalid("a service token's role is at most member", field="role")
    return TokenKind.SERVICE, role


def token_revoke(*, principal: Principal, token: ApiToken) -> ApiToken:
    """Revoke a token (idempotent). A personal token: its owner (signed in or through
    a personal token, never through a service token they created) or staff; anyone
    else gets NotFound. A service token is the project's: its project's admins or
    staff (a reader of the project gets Forbidden, anyone else NotFound), not its
    creator as such."""
    if principal.is_system or principal.is_staff:
        pass
    elif token.kind == TokenKind.SERVICE and token.project is not None:
        require_role(principal, token.project, Role.ADMIN, what="token")
    elif not principal.owns(user_id=token.user_id):
        raise not_found("token")
    if token.revoked_at is not None:
        return token
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            principal=principal,
            action=audit_actions.TOKEN_REVOKE,
            project=token.project,
            target_type="token",
            target_id=token.pk,
            target_label=f"{token.name} ({token.prefix}…)",
        )
    return token
