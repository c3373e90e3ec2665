"""Writes for artifacts. External calls to the store happen outside transactions;
each state change runs in one transaction with its audit event."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone

from apps.accounts.principal import Principal
from apps.artifacts.cleanup import artifacts_release
from apps.artifacts.keys import storage_key
from apps.artifacts.models import Artifact, ArtifactState, UploadMethod
from apps.artifacts.storage import store_get
from apps.artifacts.storage.base import (
    Download,
    PartDone,
    Transfer,
    UploadProblem,
    part_sizes,
)
from apps.artifacts.storage.local import LocalStore
from apps.artifacts.validation import ArtifactCreateIn, part_size_for
from apps.audit import registry as audit_actions
from apps.audit.services import audit_record
from apps.core.errors import Conflict, Invalid, PayloadTooLarge, not_found
from apps.core.hooks import Hook
from apps.projects.access import require_role
from apps.projects.models import Project, Role
from apps.runs.models import Run

logger = logging.getLogger(__name__)

# Shown inline (in the portal's previews) only when asked and only for these types,
# each served with a fixed, harmless Content-Type. Everything else is an attachment.
INLINE_TYPES = {
    "image/png": "image/png",
    "image/jpeg": "image/jpeg",
    "image/gif": "image/gif",
    "image/webp": "image/webp",
    "text/plain": "text/plain; charset=utf-8",
    "text/csv": "text/plain; charset=utf-8",
    "application/json": "text/plain; charset=utf-8",
}
# Types a browser would run; downloaded as opaque bytes, never with their own type.
ACTIVE_TYPES = {
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/javascript",
    "application/javascript",
    "application/x-ipynb+json",
    "text/xml",
    "application/xml",
}


@dataclass(frozen=True)
class UploadPlan:
    """What a client needs to send the bytes: one transfer, or the part size and
    (when the part digests are known) a transfer per part."""

    method: str
    expires_at: datetime
    transfer: Transfer | None = None
    part_size: int | None = None
    part_count: int | None = None
    parts: list[tuple[int, int, Transfer]] | None = None  # (number, size, transfer)


def _audit(principal: Principal, artifact: Artifact, action, **metadata) -> None:
    audit_record(
        principal=principal,
        action=action,
        project=artifact.project,
        target_type="artifact",
        target_id=artifact.public_id,
        target_label=artifact.path,
        metadata={"run_id": artifact.run.public_id, **metadata},
    )


def upload_expiry() -> datetime:
    return timezone.now() + timedelta(seconds=settings.KIROKU_ARTIFACT_UPLOAD_EXPIRY_SECONDS)


def _check_quota(project: Project, adding: int) -> None:
    quota = settings.KIROKU_ARTIFACT_QUOTA_BYTES
    if not quota:
        return
    used = Artifact.objects.filter(project=project).aggregate(total=Sum("size"))["total"] or 0
    if used + adding > quota:
        raise PayloadTooLarge(
            f"project '{project.slug}' would hold {used + adding:,} bytes of artifacts; its "
            f"quota is {quota:,} bytes ({used:,} used, pending uploads included)",
            field="size",
            code="quota_exceeded",
        )


def artifact_create(
    *, principal: Principal, run: Run, data: ArtifactCreateIn, base_url: str
) -> tuple[Artifact, UploadPlan]:
    """Declare a file of ``run`` and plan its upload. The artifact is pending until
    ``artifact_complete``. Raises PayloadTooLarge (code quota_exceeded)."""
    project = run.project
    require_role(principal, project, Role.MEMBER, what="run")
    store = store_get()
    artifact_id = uuid.uuid4()
    key = storage_key(project_id=project.pk, run_public_id=run.public_id, artifact_id=artifact_id)
    multipart = data.size > settings.KIROKU_ARTIFACT_MULTIPART_THRESHOLD
    upload_id = store.multipart_start(key=key, content_type=data.content_type) if multipart else ""
    try:
        with transaction.atomic():
            # One writer per project at a time, so two uploads cannot both pass the quota.
            Project.objects.select_for_update().filter(pk=project.pk).first()
            _check_quota(project, data.size)
            artifact = Artifact.objects.create(
                id=artifact_id,
                run=run,
                project=project,
                path=data.path,
                size=data.size,
                sha256=data.sha256,
                content_type=data.content_type,
                storage_key=key,
                method=UploadMethod.MULTIPART if multipart else UploadMethod.PUT,
                upload_id=upload_id,
                part_size=part_size_for(data.size) if multipart else None,
                # Attribution only, as a run's author (apps/runs/services.py).
                created_by=principal.user,
            )
            _audit(principal, artifact, audit_actions.ARTIFACT_CREATE, size=data.size)
    except BaseException:
        if upload_id:
            store.delete(key=key, upload_id=upload_id)
        raise
    if not multipart:
        plan = UploadPlan(
            method=UploadMethod.PUT,
            expires_at=upload_expiry(),
            transfer=store.put_transfer(
                key=key,
                size=data.size,
                sha256=data.sha256,
                content_type=data.content_type,
                expires_at=upload_expiry(),
                base_url=base_url,
            ),
        )
        return artifact, plan
    if data.parts_sha256 is not None and len(data.parts_sha256) == artifact.part_count:
        return artifact, artifact_part_transfers(
            principal=principal,
            artifact=artifact,
            parts_sha256=data.parts_sha256,
            numbers=list(range(1, artifact.part_count + 1)),
            base_url=base_url,
        )
    plan = UploadPlan(
        method=UploadMethod.MULTIPART,
        expires_at=upload_expiry(),
        part_size=artifact.part_size,
        part_count=artifact.part_count,
        parts=[],
    )
    return artifact, plan


def _require_pending_multipart(artifact: Artifact) -> None:
    if artifact.method != UploadMethod.MULTIPART:
        raise Invalid("this artifact is uploaded with a single PUT, not in parts")
    if artifact.state != ArtifactState.PENDING:
        raise Conflict("this artifact is already complete", code="already_complete")


def artifact_part_transfers(
    *,
    principal: Principal,
    artifact: Artifact,
    parts_sha256: list[str],
    numbers: list[int],
    base_url: str,
) -> UploadPlan:
    """Record the SHA-256 of every part and presign the PUTs of ``numbers``. Called
    again for fresh URLs when a client resumes an upload."""
    require_role(principal, artifact.project, Role.MEMBER, what="artifact")
    _require_pending_multipart(artifact)
    if artifact.parts_sha256 != parts_sha256:
        with transaction.atomic():
            Artifact.objects.filter(pk=artifact.pk).update(parts_sha256=parts_sha256)
        artifact.parts_sha256 = parts_sha256
    store = store_get()
    sizes = _part_sizes(artifact)
    expires_at = upload_expiry()
    transfers = [
        (
            number,
            sizes[number - 1],
            store.part_transfer(
                key=artifact.storage_key,
                upload_id=artifact.upload_id,
                number=number,
                size=sizes[number - 1],
                sha256=parts_sha256[number - 1],
                expires_at=expires_at,
                base_url=base_url,
            ),
        )
        for number in numbers
    ]
    return UploadPlan(
        method=UploadMethod.MULTIPART,
        expires_at=expires_at,
        part_size=artifact.part_size,
        part_count=artifact.part_count,
        parts=transfers,
    )


def _part_sizes(artifact: Artifact) -> list[int]:
    return part_sizes(artifact.size, artifact.part_size or artifact.size)


def artifact_complete(
    *, principal: Principal, artifact: Artifact, parts: list[tuple[int, str]]
) -> Artifact:
    """Verify the uploaded bytes against what was declared and mark the artifact
    complete with the next version number of its path. Completing a complete artifact
    returns it unchanged. Raises Invalid (codes upload_missing, size_mismatch,
    checksum_mismatch, parts_mismatch), leaving it pending."""
    require_role(principal, artifact.project, Role.MEMBER, what="artifact")
    if artifact.state == ArtifactState.COMPLETE:
        return artifact
    store = store_get()
    try:
        if artifact.method == UploadMethod.MULTIPART:
            if not artifact.parts_sha256:
                raise UploadProblem(
                    "parts_mismatch", "declare the parts' SHA-256 values (POST .../parts) first"
                )
            store.multipart_complete(
                key=artifact.storage_key,
                upload_id=artifact.upload_id,
                size=artifact.size,
                # A multipart artifact has its part size; without one, one part (as
                # _part_sizes and Artifact.part_count count it).
                part_size=artifact.part_size or artifact.size,
                parts_sha256=artifact.parts_sha256,
                parts=[PartDone(number, etag) for number, etag in parts],
                sha256=artifact.sha256,
            )
        else:
            store.put_verify(key=artifact.storage_key, size=artifact.size, sha256=artifact.sha256)
    except UploadProblem as problem:
        current = Artifact.objects.filter(pk=artifact.pk).first()
        if current is not None and current.state == ArtifactState.COMPLETE:
            return current  # a concurrent retry completed it first
        message = problem.message
        if problem.restarted:
            upload_id = store.multipart_start(
                key=artifact.storage_key, content_type=artifact.content_type
            )
            Artifact.objects.filter(pk=artifact.pk).update(upload_id=upload_id)
            message += "; the upload was started again: upload every part anew"
        raise Invalid(message, code=problem.code) from None
    with transaction.atomic():
        locked = Artifact.objects.select_for_update().select_related("run", "project")
        artifact = locked.get(pk=artifact.pk)
        if artifact.state == ArtifactState.COMPLETE:
            return artifact
        # Serialise version numbering per run.
        Run.objects.select_for_update().filter(pk=artifact.run_id).first()
        siblings = Artifact.objects.filter(run_id=artifact.run_id, path=artifact.path)
        newest = siblings.aggregate(newest=Max("version"))["newest"] or 0
        siblings.filter(latest=True).update(latest=False)
        artifact.version = newest + 1
        artifact.latest = True
        artifact.state = ArtifactState.COMPLETE
        artifact.completed_at = timezone.now()
        artifact.parts_sha256 = artifact.parts_sha256 or []
        artifact.save(update_fields=["version", "latest", "state", "completed_at"])
        _audit(principal, artifact, audit_actions.ARTIFACT_COMPLETE, version=artifact.version)
    return artifact


def artifact_download_url(
    *,
    principal: Principal,
    artifact: Artifact,
    inline: bool,
    base_url: str,
    shared_until: datetime | None = None,
) -> str:
    """A short-lived URL serving the artifact's bytes, recorded in the audit log.
    Active content (HTML, SVG, scripts, notebooks) is always an attachment of opaque
    bytes; ``inline`` is honoured only for plain images, text, CSV and JSON.

    A share-link visitor has no role: the caller has checked that the link shows this
    artifact's run with its artifacts, and passes ``shared_until`` (the link's
    expiry), which the download link never outlives."""
    if principal.share_link is None:
        require_role(principal, artifact.project, Role.VIEWER, what="artifact")
    elif shared_until is None or principal.share_link.run_id != artifact.run_id:
        raise not_found("artifact")
    if artifact.state != ArtifactState.COMPLETE:
        raise Conflict("this artifact's upload is not complete", code="upload_pending")
    declared = artifact.content_type.split(";")[0].strip()
    if inline and declared in INLINE_TYPES:
        download = Download(artifact.filename, INLINE_TYPES[declared], attachment=False)
    elif declared in ACTIVE_TYPES:
        download = Download(artifact.filename, "application/octet-stream", attachment=True)
    else:
        download = Download(artifact.filename, artifact.content_type, attachment=True)
    expires_at = timezone.now() + timedelta(
        seconds=settings.KIROKU_ARTIFACT_DOWNLOAD_EXPIRY_SECONDS
    )
    if shared_until is not None:
        expires_at = min(expires_at, shared_until)
    with transaction.atomic():
        _audit(principal, artifact, audit_actions.ARTIFACT_DOWNLOAD, inline=not download.attachment)
    return store_get().download_url(
        key=artifact.storage_key, download=download, expires_at=expires_at, base_url=base_url
    )


# Called with ``artifact=`` before an artifact is deleted; a guard raises (Conflict) to
# refuse, as the model registry does for a file a registered version holds.
artifact_delete_guards: Hook[Callable[..., object]] = Hook("artifact delete guard")


def artifact_delete(*, principal: Principal, artifact: Artifact) -> None:
    """Remove one artifact version (admins). Its object is deleted in the background;
    an older version of the path, if any, becomes the one listed. Conflict when a
    guard refuses (a registered model version holds the file)."""
    require_role(principal, artifact.project, Role.ADMIN, what="artifact")
    for guard in artifact_delete_guards:
        guard(artifact=artifact)
    with transaction.atomic():
        locked = Artifact.objects.select_for_update().filter(pk=artifact.pk).first()
        if locked is None:
            return
        _audit(principal, artifact, audit_actions.ARTIFACT_DELETE, version=artifact.version)
        artifacts_release(Artifact.objects.filter(pk=artifact.pk))
        if locked.latest:
            previous = (
                Artifact.objects.filter(
                    run_id=artifact.run_id, path=artifact.path, state=ArtifactState.COMPLETE
                )
                .exclude(pk=artifact.pk)
                .order_by("-version")
                .first()
            )
            Artifact.objects.filter(pk=artifact.pk).delete()
            if previous is not None:
                Artifact.objects.filter(pk=previous.pk).update(latest=True)
        else:
            Artifact.objects.filter(pk=artifact.pk).delete()


def _local_store() -> LocalStore:
    store = store_get()
    if not isinstance(store, LocalStore):
        raise not_found("transfer")
    return store


def artifact_receive(*, ticket, stream, content_length: int | None) -> str:
    """Write a PUT to the local store (``/store/<ticket>``) when its artifact is still
    pending; returns the ETag. Raises UploadProblem, writing nothing, when the bytes
    differ from the ticket's size or SHA-256."""
    store = _local_store()
    if not Artifact.objects.filter(storage_key=ticket.key, state=ArtifactState.PENDING).exists():
        raise not_found("upload")
    return store.receive(ticket, stream, content_length)


def artifact_open_for_download(*, ticket):
    """The local file behind a download ticket, while its artifact exists and is
    complete."""
    store = _local_store()
    if not Artifact.objects.filter(storage_key=ticket.key, state=ArtifactState.COMPLETE).exists():
        raise not_found("artifact")
    try:
        return store.open_for_download(ticket)
    except FileNotFoundError:
        raise not_found("artifact") from None
