"""What the registry's services share: audit entries and domain events about a
model, the lock on a model's row, and where an alias points."""

from __future__ import annotations

from typing import Any

from apps.accounts.principal import Principal
from apps.audit import registry as audit_actions
from apps.audit.services import audit_record
from apps.events.services import event_emit
from apps.registry.models import (
    ModelAlias,
    ModelVersion,
    RegisteredModel,
)


def version_label(version: ModelVersion) -> str:
    return f"{version.model.name} v{version.number}"


def registry_audit(
    principal: Principal,
    action: audit_actions.AuditAction,
    model: RegisteredModel,
    *,
    target_type: str,
    target_id: str | int,
    target_label: str,
    **metadata: Any,
) -> None:
    audit_record(
        principal=principal,
        action=action,
        project=model.project,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        metadata=metadata,
    )


def model_event(principal: Principal, type: str, version: ModelVersion, **payload: Any) -> None:
    """Write the domain event ``type`` about ``version`` (its run is the event's run)
    in the caller's transaction; the payload's keys are documented in
    apps.events.registry."""
    model = version.model
    event_emit(
        type=type,
        project_id=model.project_id,
        run_id=version.run_id,
        payload={
            "project": model.project.slug,
            "model": model.name,
            "model_id": model.pk,
            "version": version.number,
            "run_id": version.run.public_id,
            "actor": principal.label,
            **payload,
        },
    )


def alias_target(model: RegisteredModel, alias: str) -> ModelVersion | None:
    """The version ``alias`` points at now (None: nowhere, or no such alias)."""
    row = (
        ModelAlias.objects.select_related("version__run")
        .filter(model=model, name=alias, version__isnull=False)
        .first()
    )
    return row.version if row is not None else None


def model_locked(model: RegisteredModel) -> RegisteredModel:
    """The model's row, locked until the transaction ends (PostgreSQL; SQLite's
    writers take turns anyway)."""
    return RegisteredModel.objects.select_for_update().select_related("project").get(pk=model.pk)
