"""Everything a run records, and its metric history."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class RunStatus(models.TextChoices):
    RUNNING = "RUNNING", "running"
    FINISHED = "FINISHED", "finished"
    FAILED = "FAILED", "failed"
    KILLED = "KILLED", "killed"
    CRASHED = "CRASHED", "crashed"


# Statuses a client ends a run with; CRASHED is only ever set by the server.
TERMINAL_STATUSES = {RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED}


def new_public_id() -> str:
    return secrets.token_hex(16)


class RunQuerySet(models.QuerySet["Run"]):
    def alive(self) -> RunQuerySet:
        return self.filter(deleted_at__isnull=True, project__deleted_at__isnull=True)


class Run(models.Model):
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id)
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="runs")
    # NULL, not "", for "no client id": the unique constraint only covers real ids.
    client_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    name = models.CharField(max_length=250, blank=True, default="")
    group = models.CharField(max_length=250, blank=True, default="")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="runs",
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    # When ingestion last announced new metrics (run.metrics_updated, coalesced).
    metrics_event_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True, default="")
    git_commit = models.CharField(max_length=64, blank=True, default="")
    git_branch = models.CharField(max_length=250, blank=True, default="")
    git_remote = models.CharField(max_length=500, blank=True, default="")
    git_dirty = models.BooleanField(null=True, blank=True)
    git_diff = models.TextField(blank=True, default="")
    git_diff_truncated = models.BooleanField(default=False)
    environment = models.JSONField(default=dict, blank=True)
    ci = models.JSONField(default=dict, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = RunQuerySet.as_manager()

    # Set on a page of listed runs by runs_attach_listing (absent otherwise), for run_out.
    author_username: str | None
    parent_public_id: str | None
    # Set by apps.ci.selectors.runs_with_ci_verdict (a queryset annotation), for the
    # portal's runs table.
    ci_verdict: str | None

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "client_id"],
                name="run_client_id_unique_per_project",
                condition=models.Q(client_id__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["project", "-created_at"], name="run_project_created"),
            # Running runs only, and without heartbeat_at: an indexed heartbeat would
            # make every heartbeat and log batch rewrite all of the run's index entries
            # instead of a cheap in-place (HOT) update.
            models.Index(
                fields=["status"], name="run_running", condition=models.Q(status="RUNNING")
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.public_id

    @property
    def label(self) -> str:
        return f"{self.name or 'unnamed'} ({self.public_id[:8]})"


class Param(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="params")
    key = models.CharField(max_length=250)
    value = models.TextField()
    # The value as a number where it parses as one, so params compare numerically.
    value_num = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="param_key_unique")]
        indexes = [models.Index(fields=["key", "value_num"], name="param_key_num")]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class Tag(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=250)
    value = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="tag_key_unique")]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class SummaryValue(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="summary_values")
    key = models.CharField(max_length=250)
    value = models.JSONField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="summary_key_unique")]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class DatasetVersion(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=250)
    uri = models.CharField(max_length=1000, blank=True, default="")
    digest = models.CharField(max_length=128, blank=True, default="")
    size = models.BigIntegerField(null=True, blank=True)
    file_count = models.BigIntegerField(null=True, blank=True)
    source = models.CharField(max_length=50, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    # Set by the portal's run page (apps/portal/views/run/page.py): ``size`` for people.
    size_text: str

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="dataset_name_unique")]

    def __str__(self) -> str:
        return f"{self.name}@{self.digest or self.uri}"


class MetricPoint(models.Model):
    """One value of one metric at one step. ``(run, key, step)`` holds one value.

    ``value`` is float8; NaN is stored as SQL NULL (SQLite cannot store NaN, and
    aggregates then skip it, which is the rule for min/max). ±Infinity are stored as is.
    """

    pk = models.CompositePrimaryKey("run", "key", "step")
    # No database-level foreign key and no separate index: points are only written
    # under the run's row lock (apps.runs.ingest), the primary key (run, key, step)
    # already indexes run first, and a per-row foreign-key check cost about a third
    # of the database time of ingestion. Deleting a run still deletes its points
    # (Django's cascade).
    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    key = models.CharField(max_length=250)
    step = models.BigIntegerField()
    value = models.FloatField(null=True)
    timestamp = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key}[{self.step}]={self.value}"


class MetricSummary(models.Model):
    """Per (run, key): what search and tables read. Kept current by ingestion.

    ``last`` is the value at the highest step (NULL when that value is NaN);
    ``min``/``max`` ignore NaN and are NULL when every value is NaN.
    """

    pk = models.CompositePrimaryKey("run", "key")
    # The primary key (run, key) indexes run first already.
    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, related_name="metric_summaries", db_index=False
    )
    key = models.CharField(max_length=250)
    last = models.FloatField(null=True)
    last_step = models.BigIntegerField()
    min = models.FloatField(null=True)
    max = models.FloatField(null=True)
    count = models.BigIntegerField()
    last_timestamp = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["key", "last"], name="metricsummary_key_last")]

    def __str__(self) -> str:
        return f"{self.key}: last={self.last} at {self.last_step}"


class LogBatch(models.Model):
    """A batch applied to a run, and the response it got, so a retry replays it."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    batch_id = models.CharField(max_length=64)
    response = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "batch_id"], name="log_batch_unique"),
        ]

    def __str__(self) -> str:
        return f"batch {self.batch_id}"
