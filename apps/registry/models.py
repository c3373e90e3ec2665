"""The model registry: registered models, their numbered versions (each pointing at a
run's artifacts, with a manifest), aliases and promotion requests. MLflow's
vocabulary, so the MLflow-compatible API maps one to one."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class RegisteredModel(models.Model):
    """A named model of a project. ``last_version`` is the highest number ever given
    (versions are numbered under a lock on this row, so numbers never repeat or skip)."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="registered_models"
    )
    name = models.CharField(max_length=250)
    description = models.TextField(blank=True, default="")
    tags = models.JSONField(default=dict, blank=True)
    last_version = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"],
                condition=models.Q(deleted_at__isnull=True),
                name="registered_model_name_unique",
            )
        ]

    def __str__(self) -> str:
        return self.name


class VersionStatus(models.TextChoices):
    PENDING_REGISTRATION = "PENDING_REGISTRATION", "pending registration"
    READY = "READY", "ready"
    FAILED_REGISTRATION = "FAILED_REGISTRATION", "failed registration"


class ModelVersion(models.Model):
    """One registered version: the files under ``path`` among the source run's
    artifacts, frozen in ``manifest`` (path relative to ``path``, size, SHA-256, the
    artifact's id) and its ``manifest_digest``."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    # Set by the portal's model page: the source run's key metrics, in column order.
    metric_cells: list[float | None]
    run = models.ForeignKey("runs.Run", on_delete=models.CASCADE, related_name="model_versions")
    path = models.TextField(blank=True, default="")
    manifest = models.JSONField(default=list)
    manifest_digest = models.CharField(max_length=64)
    flavor = models.CharField(max_length=100, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True, default="")
    tags = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=24, choices=VersionStatus.choices, default=VersionStatus.READY
    )
    archived_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "number"], name="model_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.model_id}/{self.number}"


class ModelAlias(models.Model):
    """A name (``champion``) pointing at one version of a model; ``version`` is null
    for a protected alias that points nowhere yet."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=64)
    version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="aliases"
    )
    protected = models.BooleanField(default=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "name"], name="model_alias_unique")]

    def __str__(self) -> str:
        return self.name


class PromotionStatus(models.TextChoices):
    OPEN = "open", "open"
    APPROVED = "approved", "approved"
    REJECTED = "rejected", "rejected"


class PromotionRequest(models.Model):
    """A member's request that an admin point a (protected) alias at a version."""

    model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="promotion_requests"
    )
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    alias = models.CharField(max_length=64)
    reason = models.TextField()
    status = models.CharField(
        max_length=10, choices=PromotionStatus.choices, default=PromotionStatus.OPEN
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return f"{self.alias} ← {self.version_id} ({self.status})"
