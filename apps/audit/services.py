"""Writing audit events. Called by other services inside their transaction."""

from __future__ import annotations

from typing import Any

from apps.accounts.principal import Principal
from apps.audit import registry
from apps.audit.models import ActorType, AuditEvent


def audit_record(
    *,
    principal: Principal,
    action: registry.AuditAction,
    project: Any | None = None,
    target_type: str = "",
    target_id: str | int = "",
    target_label: str = "",
    metadata: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event. The caller owns the transaction."""
    registry.get(action.name)
    user = principal.user
    token = principal.token
    if principal.share_link is not None:
        actor = {
            "actor_type": ActorType.SHARE_LINK,
            "actor_id": str(principal.share_link.pk),
            "actor_label": f"share link #{principal.share_link.pk}",
        }
    elif user is None:  # principal.is_system: no user and no share link
        actor = {"actor_type": ActorType.SYSTEM, "actor_id": "", "actor_label": "system"}
    elif token is not None:
        actor = {
            "actor_type": ActorType.TOKEN,
            "actor_id": str(token.pk),
            "actor_label": f"{token.name} ({token.prefix}…)",
        }
    else:
        actor = {
            "actor_type": ActorType.USER,
            "actor_id": str(user.pk),
            "actor_label": user.username,
        }
    return AuditEvent.objects.create(
        **actor,
        actor_user_id=str(user.pk) if user else "",
        actor_user_label=user.username if user else "",
        action=action.name,
        project_id=project.pk if project is not None else None,
        project_label=project.slug if project is not None else "",
        target_type=target_type,
        target_id=str(target_id),
        target_label=target_label[:300],
        ip=principal.ip,
        user_agent=principal.user_agent,
        metadata=metadata or {},
    )
