"""Writes to registered models: create, edit, delete (soft)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.principal import Principal
from apps.audit import registry as audit_actions
from apps.core.errors import Conflict
from apps.projects.access import require_role
from apps.projects.models import Project, Role
from apps.registry.models import (
    RegisteredModel,
)
from apps.registry.services.common import (
    registry_audit,
)
from apps.registry.validation import (
    ModelCreateIn,
    ModelUpdateIn,
)


def model_create(*, principal: Principal, project: Project, data: ModelCreateIn) -> RegisteredModel:
    """Register a model name in the project (members). Conflict when it exists."""
    require_role(principal, project, Role.MEMBER)
    try:
        with transaction.atomic():
            model = RegisteredModel.objects.create(
                project=project,
                name=data.name,
                description=data.description,
                tags=data.tags,
                created_by=principal.person,
            )
            registry_audit(
                principal,
                audit_actions.MODEL_CREATE,
                model,
                target_type="model",
                target_id=model.pk,
                target_label=model.name,
            )
    except IntegrityError:
        raise Conflict(
            f"a model named '{data.name}' exists in this project", field="name"
        ) from None
    return model


def model_update(
    *, principal: Principal, model: RegisteredModel, data: ModelUpdateIn
) -> RegisteredModel:
    """Change the description and/or the tags (members); what ``data`` leaves None stays."""
    require_role(principal, model.project, Role.MEMBER, what="model")
    changes: dict[str, Any] = {}
    if data.description is not None and data.description != model.description:
        changes["description"] = data.description
    if data.tags is not None and data.tags != model.tags:
        changes["tags"] = data.tags
    if not changes:
        return model
    with transaction.atomic():
        for field, value in changes.items():
            setattr(model, field, value)
        model.updated_at = timezone.now()
        model.save(update_fields=[*changes, "updated_at"])
        registry_audit(
            principal,
            audit_actions.MODEL_UPDATE,
            model,
            target_type="model",
            target_id=model.pk,
            target_label=model.name,
            changed=sorted(changes),
        )
    return model


def model_delete(*, principal: Principal, model: RegisteredModel) -> None:
    """Soft-delete the model with its versions and aliases (admins). Its name is free
    again; the versions' runs may be deleted once no live model points at them."""
    require_role(principal, model.project, Role.ADMIN, what="model")
    with transaction.atomic():
        model.deleted_at = timezone.now()
        model.save(update_fields=["deleted_at"])
        registry_audit(
            principal,
            audit_actions.MODEL_DELETE,
            model,
            target_type="model",
            target_id=model.pk,
            target_label=model.name,
            versions=model.last_version,
        )
