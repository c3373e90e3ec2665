"""Promotion requests: a member asks, an admin approves (the alias moves in the same
transaction) or rejects."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.principal import Principal
from apps.audit import registry as audit_actions
from apps.core.errors import Conflict, not_found
from apps.events import registry as domain_events
from apps.projects.access import require_role
from apps.projects.models import Role
from apps.registry.models import (
    ModelAlias,
    ModelVersion,
    PromotionRequest,
    PromotionStatus,
    RegisteredModel,
)
from apps.registry.services.aliases import alias_move_locked
from apps.registry.services.common import (
    alias_target,
    model_event,
    model_locked,
    registry_audit,
    version_label,
)
from apps.registry.validation import (
    DecisionIn,
    PromotionIn,
)


def promotion_request(
    *, principal: Principal, model: RegisteredModel, data: PromotionIn
) -> PromotionRequest:
    """A member asks an admin to point ``data.alias`` at ``data.version``. Conflict for
    an archived version or one the alias already points at."""
    require_role(principal, model.project, Role.MEMBER, what="model")
    version = ModelVersion.objects.filter(model=model, number=data.version).first()
    if version is None:
        raise not_found("version")
    if version.archived_at is not None:
        raise Conflict(f"version {version.number} is archived", field="version")
    if ModelAlias.objects.filter(model=model, name=data.alias, version=version).exists():
        raise Conflict(f"'{data.alias}' already points at version {version.number}", field="alias")
    with transaction.atomic():
        request = PromotionRequest.objects.create(
            model=model,
            version=version,
            alias=data.alias,
            reason=data.reason,
            requested_by=principal.person,
        )
        registry_audit(
            principal,
            audit_actions.MODEL_PROMOTION_REQUEST,
            model,
            target_type="promotion_request",
            target_id=request.pk,
            target_label=f"{version_label(version)} to @{data.alias}",
            reason=data.reason,
        )
        model_event(
            principal,
            domain_events.MODEL_PROMOTION_REQUESTED,
            version,
            **_promotion_payload(request),
        )
    return request


def _promotion_payload(request: PromotionRequest) -> dict[str, Any]:
    """The promotion events' own keys, the alias's current target read now."""
    current = alias_target(request.model, request.alias)
    return {
        "alias": request.alias,
        "request_id": request.pk,
        "reason": request.reason,
        "current_version": current.number if current is not None else None,
        "current_run_id": current.run.public_id if current is not None else None,
    }


def promotion_decide(
    *, principal: Principal, request: PromotionRequest, data: DecisionIn
) -> PromotionRequest:
    """An admin approves (the alias moves, in the same transaction) or rejects an open
    request. Conflict when it was decided already (a second click changes nothing)."""
    model = request.model
    require_role(principal, model.project, Role.ADMIN, what="model")
    with transaction.atomic():
        model = model_locked(model)
        request = PromotionRequest.objects.select_related("version", "model").get(pk=request.pk)
        if request.status != PromotionStatus.OPEN:
            raise Conflict(f"this request was {request.status} already", code="already_decided")
        request.status = PromotionStatus.APPROVED if data.approve else PromotionStatus.REJECTED
        request.decided_by = principal.person
        request.decided_at = timezone.now()
        request.decision_comment = data.comment
        request.save(update_fields=["status", "decided_by", "decided_at", "decision_comment"])
        registry_audit(
            principal,
            audit_actions.MODEL_PROMOTION_DECIDE,
            model,
            target_type="promotion_request",
            target_id=request.pk,
            target_label=f"{version_label(request.version)} to @{request.alias}",
            decision=request.status,
            comment=data.comment,
        )
        # Written before an approval moves the alias: "current" is what it replaces.
        model_event(
            principal,
            domain_events.MODEL_PROMOTION_DECIDED,
            request.version,
            **_promotion_payload(request),
            decision=request.status,
            comment=data.comment,
            requested_by=request.requested_by.username if request.requested_by else "",
        )
        if data.approve:
            alias_move_locked(
                principal=principal,
                model=model,
                alias=request.alias,
                version=request.version,
                reason=request.reason,
                via_request=request,
            )
    return request
