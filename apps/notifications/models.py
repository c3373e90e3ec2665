"""Destinations (where messages go), rules (when), deliveries (the outbox of sends).

A Delivery row is written in the same transaction as the event dispatch that caused
it, before anything is sent, and updated around every attempt: it is the record of
what Kiroku owes a destination and what happened to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.notifications import crypto


class DestinationKind(models.TextChoices):
    SLACK = "slack", "Slack"
    NOTION = "notion", "Notion"


class Destination(models.Model):
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="destinations"
    )
    kind = models.CharField(max_length=16, choices=DestinationKind.choices)
    name = models.CharField(max_length=100)
    # Slack channel id or Notion database id: not secret, shown to admins.
    target = models.CharField(max_length=200)
    # Fernet token of {"token": ...}; never returned by the API.
    credentials_encrypted = models.TextField()
    credentials_hint = models.CharField(max_length=32, blank=True, default="")
    # Facts learned from the remote side (Notion: data source id, property names).
    remote = models.JSONField(default=dict, blank=True)
    # A permanent error (revoked token, missing channel) stops deliveries until an
    # admin fixes the destination; the reason is shown in the settings.
    broken_reason = models.CharField(max_length=500, blank=True, default="")
    broken_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)
    # Set by the portal's integrations page (apps/portal/views/integrations.py): the
    # refusal shown beside this destination's forms, and what its edit form shows.
    error: str | None
    form_name: str | None
    form_target: str | None

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="destination_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def credentials(self) -> dict[str, Any]:
        return crypto.decrypt(self.credentials_encrypted)

    def set_credentials(self, credentials: dict[str, Any]) -> None:
        self.credentials_encrypted = crypto.encrypt(credentials)
        self.credentials_hint = crypto.mask(str(credentials.get("token", "")))

    @property
    def is_broken(self) -> bool:
        return self.broken_at is not None


class Rule(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="rules")
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="rules")
    # One of apps.notifications.catalog.RULE_EVENTS.
    event = models.CharField(max_length=32)
    # metric.threshold: {"metric", "op", "value"}; run.new_best: {"metric", "goal"};
    # other events: {} or {"metrics": [...]} (the key metrics of the message).
    condition = models.JSONField(default=dict, blank=True)
    # {"tags": {"k": "v"}, "name": "glob", "author": "username", "branch": "glob"}
    filters = models.JSONField(default=dict, blank=True)
    cooldown_seconds = models.PositiveIntegerField(default=0)
    enabled = models.BooleanField(default=True)
    last_fired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set by the portal's integrations page (apps/portal/views/integrations.py): the
    # event's title, the form's id prefix, what its edit form shows, and its refusal.
    title: str
    prefix: str
    form: Mapping[str, Any]
    error: str | None

    def __str__(self) -> str:
        return f"{self.event}->{self.destination_id}"

    def admin_settings(self) -> dict[str, Any]:
        """What an admin sets (the API's fields; the audit log's before/after)."""
        return {
            "event": self.event,
            "destination": self.destination_id,
            "condition": self.condition,
            "filters": self.filters,
            "cooldown": self.cooldown_seconds,
            "enabled": self.enabled,
        }


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"  # waiting for its first or next attempt
    SENDING = "sending"  # an attempt started; if it stays so, its worker was lost
    SENT = "sent"
    FAILED = "failed"  # permanent error, or out of attempts


class Delivery(models.Model):
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="deliveries"
    )
    rule = models.ForeignKey(Rule, null=True, on_delete=models.SET_NULL, related_name="deliveries")
    destination = models.ForeignKey(
        Destination, on_delete=models.CASCADE, related_name="deliveries"
    )
    # What happened: the DomainEvent it came from (plain ids: they outlive purges).
    event_id = models.BigIntegerField(null=True, blank=True)
    event_type = models.CharField(max_length=32)  # the rule's event name
    run_id = models.BigIntegerField(null=True, blank=True)
    # What the message is about beyond the run (threshold crossed, mention, CI report).
    payload = models.JSONField(default=dict, blank=True)
    # "<rule id>:<event id>", or "<rule id>:run:<run id>" for once-per-run conditions.
    idempotency_key = models.CharField(max_length=100, unique=True)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True, default="")
    # Slack message ts or Notion page id once sent (or found sent by a duplicate check).
    remote_id = models.CharField(max_length=100, blank=True, default="")
    # Slack: the ts of the thread this message went into; Notion: blocks appended so far.
    thread_ts = models.CharField(max_length=100, blank=True, default="")
    progress = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Set by the portal's integrations page (apps/portal/views/integrations.py) for
    # its delivery log.
    destination_name: str
    run_public_id: str | None

    class Meta:
        indexes = [
            models.Index(fields=["project", "-created_at"], name="delivery_project_recent"),
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_open",
                condition=models.Q(status__in=["pending", "sending"]),
            ),
            models.Index(fields=["destination", "run_id"], name="delivery_thread"),
        ]

    def __str__(self) -> str:
        return f"delivery#{self.pk} {self.idempotency_key} {self.status}"
