"""Writes for users' API tokens."""

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

    A personal token may only be created by its owner (or staff). A service token
    needs the admin role in its project and a role of viewer or member.
    """
    name = (name or "").strip()
    if not name or len(name) > TOKEN_NAME_MAX:
        raise Invalid(f"name must be 1 to {TOKEN_NAME_MAX} characters", field="name")
    if expires_at is not None and expires_at <= timezone.now():
        raise Invalid("expires_at must be in the future", field="expires_at")
    if project is None:
        if role is not None:
            raise Invalid("a role is only given to a project service token", field="role")
        if not principal.is_system and not principal.is_staff and principal.user != owner:
            raise not_found("user")
        if principal.service_token is not None:
            raise Forbidden("a service token cannot create tokens")
        kind = TokenKind.PERSONAL
    else:
        require_role(principal, project, Role.ADMIN)
        role = role if role is not None else Role.MEMBER
        if role > Role.MEMBER:
            raise Invalid("a service token's role is at most member", field="role")
        kind = TokenKind.SERVICE
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


def token_revoke(*, principal: Principal, token: ApiToken) -> ApiToken:
    """Revoke a token (idempotent). Its owner may revoke it; a project admin may
    revoke the project's service tokens."""
    allowed = (
        principal.is_system
        or principal.is_staff
        or (principal.service_token is None and principal.user == token.user)
    )
    if not allowed and token.project is not None:
        require_role(principal, token.project, Role.ADMIN)
        allowed = True
    if not allowed:
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
