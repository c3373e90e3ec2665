"""Writes to aliases: move (with a reason), remove, protect. A protected alias moves
only by an admin or an approved promotion request."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.principal import Principal
from apps.audit import registry as audit_actions
from apps.core.errors import Conflict, Forbidden, not_found
from apps.events import registry as domain_events
from apps.projects.access import require_role
from apps.projects.models import Role
from apps.registry.models import (
    ModelAlias,
    ModelVersion,
    PromotionRequest,
    RegisteredModel,
)
from apps.registry.services.common import (
    model_event,
    model_locked,
    registry_audit,
)


def _alias_changed(
    principal: Principal,
    action: audit_actions.AuditAction,
    row: ModelAlias,
    fields: list[str],
    **metadata: Any,
) -> None:
    """Save ``fields`` of the alias (stamped with who and when) and audit the change."""
    row.updated_by, row.updated_at = principal.person, timezone.now()
    row.save(update_fields=[*fields, "updated_by", "updated_at"])
    registry_audit(
        principal,
        action,
        row.model,
        target_type="model_alias",
        target_id=row.pk,
        target_label=f"{row.model.name}@{row.name}",
        **metadata,
    )


def alias_move_locked(
    *,
    principal: Principal,
    model: RegisteredModel,
    alias: str,
    version: ModelVersion,
    reason: str,
    via_request: PromotionRequest | None = None,
) -> ModelAlias:
    """Point ``alias`` at ``version`` inside the caller's transaction, with the model's
    row locked. A protected alias needs an admin (or an approved request)."""
    if version.archived_at is not None:
        raise Conflict(
            f"version {version.number} is archived; it cannot get aliases", field="version"
        )
    row, _ = ModelAlias.objects.get_or_create(model=model, name=alias)
    if row.protected and via_request is None:
        role = require_role(principal, model.project, Role.MEMBER, what="model")
        if role < Role.ADMIN:
            raise Forbidden(
                f"the alias '{alias}' is protected: open a promotion request for an admin "
                "to approve",
                code="alias_protected",
            )
    previous = row.version
    before = previous.number if previous is not None else None
    if before == version.number:
        return row
    row.version = version
    _alias_changed(
        principal,
        audit_actions.MODEL_ALIAS_MOVE,
        row,
        ["version"],
        before=before,
        after=version.number,
        reason=reason,
        **({"promotion_request": via_request.pk} if via_request is not None else {}),
    )
    model_event(
        principal,
        domain_events.MODEL_ALIAS_MOVED,
        version,
        alias=alias,
        previous_version=before,
        previous_run_id=previous.run.public_id if previous is not None else None,
        reason=reason,
        **({"promotion_request": via_request.pk} if via_request is not None else {}),
    )
    return row


def alias_set(
    *, principal: Principal, model: RegisteredModel, alias: str, number: int, reason: str
) -> ModelAlias:
    """Point ``alias`` at version ``number`` (members; admins for a protected alias:
    Forbidden with code ``alias_protected`` otherwise). NotFound naming ``version``."""
    require_role(principal, model.project, Role.MEMBER, what="model")
    with transaction.atomic():
        model = model_locked(model)
        version = ModelVersion.objects.filter(model=model, number=number).first()
        if version is None:
            raise not_found("version")
        return alias_move_locked(
            principal=principal, model=model, alias=alias, version=version, reason=reason
        )


def alias_delete(*, principal: Principal, model: RegisteredModel, alias: str, reason: str) -> None:
    """Remove the alias (members; admins for a protected one, whose protection stays:
    it then points nowhere). NotFound when the model has no such alias."""
    require_role(principal, model.project, Role.MEMBER, what="model")
    with transaction.atomic():
        model = model_locked(model)
        row = ModelAlias.objects.select_related("version").filter(model=model, name=alias).first()
        if row is None:
            raise not_found("alias")
        if row.protected and require_role(principal, model.project, Role.MEMBER) < Role.ADMIN:
            raise Forbidden(f"the alias '{alias}' is protected", code="alias_protected")
        before = row.version.number if row.version is not None else None
        # A protected alias keeps its row (and its protection), pointing nowhere.
        row.version = None
        _alias_changed(
            principal,
            audit_actions.MODEL_ALIAS_DELETE,
            row,
            ["version"],
            before=before,
            reason=reason,
        )
        if not row.protected:
            row.delete()


def alias_protect(
    *, principal: Principal, model: RegisteredModel, alias: str, protected: bool
) -> ModelAlias:
    """Protect or unprotect an alias (admins); protecting a name that points nowhere
    yet reserves it."""
    require_role(principal, model.project, Role.ADMIN, what="model")
    with transaction.atomic():
        model = model_locked(model)
        row, _ = ModelAlias.objects.get_or_create(model=model, name=alias)
        if row.protected != protected:
            row.protected = protected
            _alias_changed(
                principal,
                audit_actions.MODEL_ALIAS_PROTECT,
                row,
                ["protected"],
                protected=protected,
            )
    return row
