"""DomainEvent: the outbox. Written in the same transaction as the change it records."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class DomainEvent(models.Model):
    type = models.CharField(max_length=64, db_index=True)
    # Plain ids, not foreign keys: an event outlives a purge of what it is about.
    project_id = models.BigIntegerField(null=True, blank=True)
    run_id = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                name="domainevent_undispatched",
                condition=models.Q(dispatched_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type}#{self.pk}"
