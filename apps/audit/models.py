"""AuditEvent: append-only. Ids and labels, no foreign keys, so deleting anything
never touches the log. No code path updates or deletes a row; the database refuses
it too (a trigger added by migration)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class AppendOnlyError(Exception):
    pass


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events are append-only")

    def delete(self):
        raise AppendOnlyError("audit events are append-only")


class ActorType(models.TextChoices):
    USER = "user", "user"
    TOKEN = "token", "token"
    SHARE_LINK = "share_link", "share link"
    SYSTEM = "system", "system"


class AuditEvent(models.Model):
    created_at = models.DateTimeField(default=timezone.now)
    actor_type = models.CharField(max_length=20, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True, default="")
    actor_label = models.CharField(max_length=200, blank=True, default="")
    # For a token actor, the user the token belongs to (id and label).
    actor_user_id = models.CharField(max_length=64, blank=True, default="")
    actor_user_label = models.CharField(max_length=200, blank=True, default="")
    action = models.CharField(max_length=64)
    project_id = models.BigIntegerField(null=True, blank=True)
    project_label = models.CharField(max_length=200, blank=True, default="")
    target_type = models.CharField(max_length=40, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    target_label = models.CharField(max_length=300, blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        # A project's log is read newest first by id, one keyset page at a time
        # (``id < before ORDER BY id DESC LIMIT n``), under each filter the audit page
        # offers; each index below serves one filter in that order, so a page deep in a
        # log of millions reads only its own rows. Every read names a project, so no
        # index starts anywhere else (an append-only table pays for each one on insert).
        indexes = [
            models.Index(fields=["project_id", "-id"], name="audit_project_newest"),
            models.Index(fields=["project_id", "action", "-id"], name="audit_project_action"),
            models.Index(
                fields=["project_id", "target_type", "target_id", "-id"],
                name="audit_project_target",
            ),
            models.Index(fields=["project_id", "actor_label", "-id"], name="audit_project_actor"),
            models.Index(
                fields=["project_id", "actor_user_label", "-id"], name="audit_project_actor_user"
            ),
            models.Index(fields=["project_id", "-created_at"], name="audit_project_time"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%dT%H:%M:%SZ} {self.action} {self.target_label}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events are append-only")
