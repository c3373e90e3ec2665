"""Writes to model versions: register (numbered under the model's lock), edit,
archive; and the audited, presigned download of a version's files."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.principal import Principal
from apps.artifacts.models import Artifact
from apps.artifacts.storage import store_get
from apps.artifacts.storage.base import Download
from apps.audit import registry as audit_actions
from apps.core.errors import Conflict, not_found
from apps.events import registry as domain_events
from apps.projects.access import require_role
from apps.projects.models import Project, Role
from apps.registry.manifest import (
    folder_artifacts,
    manifest_build,
    manifest_digest,
    manifest_public,
)
from apps.registry.models import (
    ModelVersion,
    RegisteredModel,
)
from apps.registry.services.aliases import alias_move_locked
from apps.registry.services.common import (
    model_event,
    model_locked,
    registry_audit,
    version_label,
)
from apps.registry.validation import (
    VersionCreateIn,
    VersionUpdateIn,
)
from apps.runs.models import Run


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
            registry_audit(
                principal,
                audit_actions.MODEL_CREATE,
                model,
                target_type="model",
                target_id=model.pk,
                target_label=model.name,
            )
        model = model_locked(model)
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
        registry_audit(
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
        model_event(
            principal,
            domain_events.MODEL_VERSION_CREATED,
            version,
            description=version.description,
        )
        for alias in data.aliases:
            alias_move_locked(
                principal=principal, model=model, alias=alias, version=version, reason=""
            )
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
            registry_audit(
                principal,
                audit_actions.MODEL_VERSION_UPDATE,
                model,
                target_type="model_version",
                target_id=version.pk,
                target_label=version_label(version),
                changed=sorted(changes),
            )
        if data.archived is not None and data.archived != (version.archived_at is not None):
            model_locked(model)
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
            registry_audit(
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
        registry_audit(
            principal,
            audit_actions.MODEL_DOWNLOAD,
            model,
            target_type="model_version",
            target_id=version.pk,
            target_label=version_label(version),
            files=len(files),
        )
    return files
