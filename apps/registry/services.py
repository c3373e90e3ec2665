"""Writes to the model registry. Each function takes the acting principal, checks the
role, writes in one transaction and records its audit event.

Viewers read; members register models and versions, edit them, move aliases that are
not protected and open promotion requests; admins also protect aliases, decide
promotion requests, archive versions and delete models. Version numbers and alias
moves are decided under a lock on the model's row, so concurrent registrations get
consecutive numbers and concurrent moves leave one consistent state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.principal import Principal
from apps.artifacts.models import Artifact
from apps.artifacts.storage import store_get
from apps.artifacts.storage.base import Download
from apps.audit import registry as audit_actions
from apps.audit.services import audit_record
from apps.core.errors import Conflict, Forbidden, not_found
from apps.events import registry as domain_events
from apps.events.services import event_emit
from apps.projects.access import require_role
from apps.projects.models import Project, Role
from apps.registry.manifest import (
    folder_artifacts,
    manifest_build,
    manifest_digest,
    manifest_public,
)
from apps.registry.models import (
    ModelAlias,
    ModelVersion,
    PromotionRequest,
    PromotionStatus,
    RegisteredModel,
)
from apps.registry.validation import (
    DecisionIn,
    ModelCreateIn,
    ModelUpdateIn,
    PromotionIn,
    VersionCreateIn,
    VersionUpdateIn,
)
from apps.runs.models import Run


def version_label(version: ModelVersion) -> str:
    return f"{version.model.name} v{version.number}"


def _audit(
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


def _event(principal: Principal, type: str, version: ModelVersion, **payload: Any) -> None:
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


def _alias_target(model: RegisteredModel, alias: str) -> ModelVersion | None:
    """The version ``alias`` points at now (None: nowhere, or no such alias)."""
    row = (
        ModelAlias.objects.select_related("version__run")
        .filter(model=model, name=alias, version__isnull=False)
        .first()
    )
    return row.version if row is not None else None


def _locked(model: RegisteredModel) -> RegisteredModel:
    """The model's row, locked until the transaction ends (PostgreSQL; SQLite's
    writers take turns anyway)."""
    return RegisteredModel.objects.select_for_update().select_related("project").get(pk=model.pk)


# --- models ---------------------------------------------------------------------------


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
            _audit(
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
        _audit(
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
        _audit(
            principal,
            audit_actions.MODEL_DELETE,
            model,
            target_type="model",
            target_id=model.pk,
            target_label=model.name,
            versions=model.last_version,
        )


# --- versions ------------------------------------------------------------------------


def version_create(
    *, principal: Principal, project: Project, name: str, data: VersionCreateIn
) -> ModelVersion:
    """Register the run's artifacts under ``data.path`` as the next version of the
    model ``name`` (members), creating the model when it does not exist, and point
    ``data.aliases`` at it (a protected one needs an admin: Forbidden otherwise, and
    nothing is registered). NotFound naming ``run_id`` for a run outside the project.
    Invalid (field ``path``) when the folder holds no complete artifact."""
    require_role(principal, project, Role.MEMBER)
    run = Run.objects.filter(
        project=project, public_id=data.run_id, deleted_at__isnull=True
    ).first()
    if run is None:
        raise not_found("run")
    artifacts = folder_artifacts(run=run, path=data.path)
    manifest = manifest_build(artifacts, folder=data.path)
    with transaction.atomic():
        # The run's row, locked: a delete waits for this registration and then sees
        # the version (apps.runs.services runs its guards under the same lock).
        alive = Run.objects.select_for_update().filter(pk=run.pk, deleted_at__isnull=True)
        if not list(alive.values_list("pk", flat=True)):
            raise not_found("run")
        model, created = RegisteredModel.objects.get_or_create(
            project=project,
            name=name,
            deleted_at=None,
            defaults={"created_by": principal.person},
        )
        if created:
            _audit(
                principal,
                audit_actions.MODEL_CREATE,
                model,
                target_type="model",
                target_id=model.pk,
                target_label=model.name,
            )
        model = _locked(model)
        model.last_version += 1
        model.updated_at = timezone.now()
        model.save(update_fields=["last_version", "updated_at"])
        version = ModelVersion.objects.create(
            model=model,
            number=model.last_version,
            run=run,
            path=data.path,
            manifest=manifest,
            manifest_digest=manifest_digest(manifest_public(manifest)),
            flavor=data.flavor,
            metadata=data.metadata,
            description=data.description,
            tags=data.tags,
            created_by=principal.person,
        )
        _audit(
            principal,
            audit_actions.MODEL_VERSION_CREATE,
            model,
            target_type="model_version",
            target_id=version.pk,
            target_label=version_label(version),
            run=run.public_id,
            files=len(manifest),
            manifest_digest=version.manifest_digest,
        )
        _event(
            principal,
            domain_events.MODEL_VERSION_CREATED,
            version,
            description=version.description,
        )
        for alias in data.aliases:
            _alias_move(principal=principal, model=model, alias=alias, version=version, reason="")
    return version


def version_update(
    *, principal: Principal, version: ModelVersion, data: VersionUpdateIn
) -> ModelVersion:
    """Change a version's description and tags (members) and archive or unarchive it
    (admins). An archived version keeps its files and lineage, leaves the default
    listings and cannot receive aliases; one that aliases point at cannot be archived
    (Conflict: move the aliases first)."""
    model = version.model
    needed = Role.ADMIN if data.archived is not None else Role.MEMBER
    require_role(principal, model.project, needed, what="model")
    with transaction.atomic():
        changes: dict[str, Any] = {}
        if data.description is not None and data.description != version.description:
            changes["description"] = data.description
        if data.tags is not None and data.tags != version.tags:
            changes["tags"] = data.tags
        if changes:
            for field, value in changes.items():
                setattr(version, field, value)
            version.save(update_fields=list(changes))
            _audit(
                principal,
                audit_actions.MODEL_VERSION_UPDATE,
                model,
                target_type="model_version",
                target_id=version.pk,
                target_label=version_label(version),
                changed=sorted(changes),
            )
        if data.archived is not None and data.archived != (version.archived_at is not None):
            _locked(model)
            if data.archived:
                names = list(version.aliases.values_list("name", flat=True))
                if names:
                    raise Conflict(
                        f"aliases {', '.join(sorted(names))} point at this version; move them "
                        "before archiving it",
                        field="archived",
                    )
            version.archived_at = timezone.now() if data.archived else None
            version.save(update_fields=["archived_at"])
            _audit(
                principal,
                audit_actions.MODEL_VERSION_ARCHIVE
                if data.archived
                else audit_actions.MODEL_VERSION_RESTORE,
                model,
                target_type="model_version",
                target_id=version.pk,
                target_label=version_label(version),
            )
    return version


def version_files(
    *, principal: Principal, version: ModelVersion, base_url: str
) -> list[tuple[dict[str, Any], str]]:
    """Each manifest entry with a short-lived URL serving its bytes (viewers), one
    ``model.download`` audit event for the lot. Conflict when a file is gone from the
    store's records (its artifact was replaced or deleted)."""
    model = version.model
    require_role(principal, model.project, Role.VIEWER, what="model")
    ids = [entry["artifact_id"] for entry in version.manifest]
    artifacts = {a.public_id: a for a in Artifact.objects.filter(id__in=ids)}
    store = store_get()
    expires_at = timezone.now() + timedelta(
        seconds=settings.KIROKU_ARTIFACT_DOWNLOAD_EXPIRY_SECONDS
    )
    files: list[tuple[dict[str, Any], str]] = []
    for entry in version.manifest:
        artifact = artifacts.get(entry["artifact_id"])
        if artifact is None or artifact.sha256 != entry["sha256"]:
            raise Conflict(
                f"the file '{entry['path']}' of this version is no longer stored",
                code="model_files_missing",
            )
        download = Download(artifact.filename, "application/octet-stream", attachment=True)
        url = store.download_url(
            key=artifact.storage_key, download=download, expires_at=expires_at, base_url=base_url
        )
        files.append((entry, url))
    with transaction.atomic():
        _audit(
            principal,
            audit_actions.MODEL_DOWNLOAD,
            model,
            target_type="model_version",
            target_id=version.pk,
            target_label=version_label(version),
            files=len(files),
        )
    return files


# --- aliases -------------------------------------------------------------------------


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
    _audit(
        principal,
        action,
        row.model,
        target_type="model_alias",
        target_id=row.pk,
        target_label=f"{row.model.name}@{row.name}",
        **metadata,
    )


def _alias_move(
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
    _event(
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
        model = _locked(model)
        version = ModelVersion.objects.filter(model=model, number=number).first()
        if version is None:
            raise not_found("version")
        return _alias_move(
            principal=principal, model=model, alias=alias, version=version, reason=reason
        )


def alias_delete(*, principal: Principal, model: RegisteredModel, alias: str, reason: str) -> None:
    """Remove the alias (members; admins for a protected one, whose protection stays:
    it then points nowhere). NotFound when the model has no such alias."""
    require_role(principal, model.project, Role.MEMBER, what="model")
    with transaction.atomic():
        model = _locked(model)
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
        model = _locked(model)
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


# --- promotion requests --------------------------------------------------------------


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
        _audit(
            principal,
            audit_actions.MODEL_PROMOTION_REQUEST,
            model,
            target_type="promotion_request",
            target_id=request.pk,
            target_label=f"{version_label(version)} to @{data.alias}",
            reason=data.reason,
        )
        _event(
            principal,
            domain_events.MODEL_PROMOTION_REQUESTED,
            version,
            **_promotion_payload(request),
        )
    return request


def _promotion_payload(request: PromotionRequest) -> dict[str, Any]:
    """The promotion events' own keys, the alias's current target read now."""
    current = _alias_target(request.model, request.alias)
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
        model = _locked(model)
        request = PromotionRequest.objects.select_related("version", "model").get(pk=request.pk)
        if request.status != PromotionStatus.OPEN:
            raise Conflict(f"this request was {request.status} already", code="already_decided")
        request.status = PromotionStatus.APPROVED if data.approve else PromotionStatus.REJECTED
        request.decided_by = principal.person
        request.decided_at = timezone.now()
        request.decision_comment = data.comment
        request.save(update_fields=["status", "decided_by", "decided_at", "decision_comment"])
        _audit(
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
        _event(
            principal,
            domain_events.MODEL_PROMOTION_DECIDED,
            request.version,
            **_promotion_payload(request),
            decision=request.status,
            comment=data.comment,
            requested_by=request.requested_by.username if request.requested_by else "",
        )
        if data.approve:
            _alias_move(
                principal=principal,
                model=model,
                alias=request.alias,
                version=request.version,
                reason=request.reason,
                via_request=request,
            )
    return request


# --- the runs' side ------------------------------------------------------------------


def run_delete_guard(*, run: Run) -> None:
    """Registered into apps.runs.services.run_delete_guards: a run that versions of a
    live model point at is not deleted (their files and lineage are its)."""
    versions = list(
        ModelVersion.objects.filter(run=run, model__deleted_at__isnull=True)
        .select_related("model")
        .order_by("model__name", "number")[:5]
    )
    if versions:
        named = ", ".join(version_label(v) for v in versions)
        raise Conflict(
            f"registered model versions come from this run ({named}); delete those models "
            "first, or keep the run",
            code="run_has_model_versions",
        )


def artifact_delete_guard(*, artifact: Artifact) -> None:
    """Registered into apps.artifacts.services.artifact_delete_guards: a file that a
    version of a live model holds is not deleted (its manifest names it)."""
    # A run has few versions; SQLite has no JSON containment lookup.
    versions = ModelVersion.objects.filter(
        run_id=artifact.run_id, model__deleted_at__isnull=True
    ).select_related("model")
    held = next(
        (
            version
            for version in versions
            if any(entry["artifact_id"] == artifact.public_id for entry in version.manifest)
        ),
        None,
    )
    if held is not None:
        raise Conflict(
            f"{version_label(held)} holds this file; delete that model first",
            code="artifact_in_model_version",
        )
