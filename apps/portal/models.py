"""What the portal remembers: each user's columns per project, and saved views."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ColumnChoice(models.Model):
    """The params/metrics/tags columns a user last chose for a project's runs table,
    as the ``columns`` text the search API takes (``params.lr,metrics.acc``)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE)
    columns = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "project"], name="column_choice_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.project_id}: {self.columns}"


class SavedView(models.Model):
    """A named filter, sort and set of columns that anyone in the project can open
    by its URL."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE)
    name = models.CharField(max_length=100)
    filter = models.TextField(blank=True, default="")
    order_by = models.CharField(max_length=2000, blank=True, default="")
    columns = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="saved_view_name_unique")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
