"""Removing artifacts' objects from the store: after a run or project is purged,
an artifact deleted, or an upload left pending too long. The rows go in the caller's
transaction and the objects are queued (ReleasedObject); a background task deletes
them after commit and retries what failed."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.artifacts.models import Artifact, ArtifactState, ReleasedObject
from apps.artifacts.storage import store_get
from apps.artifacts.storage.base import StoreUnavailable
from apps.projects.models import Project
from apps.runs.models import Run

logger = logging.getLogger(__name__)


def artifacts_release(artifacts) -> int:
    """Queue the objects of ``artifacts`` for deletion (the rows are about to go), and
    schedule the deletion after commit."""
    rows = [
        ReleasedObject(storage_key=key, upload_id=upload_id)
        for key, upload_id in artifacts.values_list("storage_key", "upload_id").iterator()
    ]
    ReleasedObject.objects.bulk_create(rows, batch_size=1000)
    if rows:
        from apps.artifacts.tasks import delete_released

        transaction.on_commit(delete_released.delay)
    return len(rows)


def artifacts_release_for_run(*, run: Run) -> int:
    """Called (inside its transaction) by whatever hard-deletes ``run``: its objects
    are deleted from the store once that commits."""
    return artifacts_release(Artifact.objects.filter(run=run))


def artifacts_release_for_project(*, project: Project) -> int:
    """As ``artifacts_release_for_run``, for every run of ``project``."""
    return artifacts_release(Artifact.objects.filter(project=project))


def artifacts_abort_stale(*, older_than_seconds: int) -> int:
    """Abort uploads still pending after ``older_than_seconds``: the rows go, the
    objects and multipart uploads are deleted in the background."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stale = Artifact.objects.filter(state=ArtifactState.PENDING, created_at__lt=cutoff)
    aborted = 0
    while True:
        with transaction.atomic():
            ids = list(stale.values_list("pk", flat=True)[:500])
            if not ids:
                return aborted
            batch = Artifact.objects.filter(pk__in=ids, state=ArtifactState.PENDING)
            artifacts_release(batch)
            aborted += batch.delete()[1].get("artifacts.Artifact", 0)


def released_delete(*, limit: int = 1000) -> int:
    """Delete queued objects from the store, then their rows. A failure leaves the row
    for the next attempt. Returns how many were deleted."""
    store = store_get()
    deleted = 0
    for row in ReleasedObject.objects.order_by("pk")[:limit]:
        try:
            store.delete(key=row.storage_key, upload_id=row.upload_id)
        except StoreUnavailable:
            logger.warning("artifacts: deleting %s failed; will retry", row.storage_key)
            continue
        row.delete()
        deleted += 1
    return deleted
