"""Artifacts: the files a run leaves behind, and the storage objects waiting to be
deleted."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class ArtifactState(models.TextChoices):
    PENDING = "pending", "pending"
    COMPLETE = "complete", "complete"


class UploadMethod(models.TextChoices):
    PUT = "put", "single PUT"
    MULTIPART = "multipart", "multipart"


class Artifact(models.Model):
    """One version of one file of a run. ``path`` is the client's name, validated and
    kept as metadata only; ``storage_key`` is built by the server from ids."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey("runs.Run", on_delete=models.CASCADE, related_name="artifacts")
    # Denormalised from the run: the quota is summed per project.
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="artifacts"
    )
    path = models.TextField()
    # Numbered when the upload completes (1, 2, ... per run and path), so abandoned
    # uploads leave no gaps; ``latest`` marks the version listings show.
    version = models.PositiveIntegerField(null=True, blank=True)
    latest = models.BooleanField(default=False)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=255)
    storage_key = models.CharField(max_length=512, unique=True)
    state = models.CharField(
        max_length=10, choices=ArtifactState.choices, default=ArtifactState.PENDING
    )
    method = models.CharField(max_length=10, choices=UploadMethod.choices)
    # Multipart only: the store's upload id, the part size the server chose, and the
    # SHA-256 of each part as the client declared them (hex).
    upload_id = models.CharField(max_length=1024, blank=True, default="")
    part_size = models.BigIntegerField(null=True, blank=True)
    parts_sha256 = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "path", "version"], name="artifact_version_unique"
            ),
            models.UniqueConstraint(
                fields=["run", "path"],
                name="artifact_one_latest_per_path",
                condition=models.Q(latest=True),
            ),
        ]
        indexes = [
            models.Index(
                fields=["run", "path"], name="artifact_run_latest", condition=models.Q(latest=True)
            ),
            models.Index(
                fields=["created_at"],
                name="artifact_pending_created",
                condition=models.Q(state="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.path} v{self.version} ({self.state})"

    @property
    def public_id(self) -> str:
        return self.id.hex

    @property
    def part_count(self) -> int:
        if not self.part_size:
            return 1
        return max(1, -(-self.size // self.part_size))

    @property
    def filename(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class ReleasedObject(models.Model):
    """A storage object whose artifact row is gone (run or project purged, artifact
    deleted, upload aborted). Written in the transaction that removes the row; a
    background job deletes the object and then this row, so a crash between the two
    only means the deletion is tried again."""

    storage_key = models.CharField(max_length=512)
    upload_id = models.CharField(max_length=1024, blank=True, default="")
    released_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.storage_key
