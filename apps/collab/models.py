"""Comments on runs and saved comparisons, and share links that show one run or one
saved comparison to people without an account."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

COMMENT_MAX_LENGTH = 20_000
COMPARISON_NAME_MAX_LENGTH = 100
COMPARISON_MIN_RUNS = 2
COMPARISON_MAX_RUNS = 20


def _one_target(name: str) -> models.CheckConstraint:
    """Exactly one of ``run`` and ``comparison`` is set."""
    return models.CheckConstraint(
        condition=models.Q(run__isnull=False, comparison__isnull=True)
        | models.Q(run__isnull=True, comparison__isnull=False),
        name=name,
    )


class SavedComparison(models.Model):
    """A named selection of 2 to 20 runs of one project, opened as the compare page.
    ``run_ids`` holds the runs' public ids in the order chosen; a run deleted since
    is left out when the comparison is shown."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="comparisons"
    )
    name = models.CharField(max_length=COMPARISON_NAME_MAX_LENGTH)
    run_ids = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_label = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"comparison {self.pk} ({self.name})"

    @property
    def label(self) -> str:
        return self.name


class Comment(models.Model):
    """A comment on a run or a saved comparison (exactly one), or a reply to one (one
    level deep). ``body`` is the
    author's markdown; ``body_html`` its sanitised rendering, made when it is written.
    Deleting is soft: the row stays to keep the thread's shape, its text goes."""

    run = models.ForeignKey(
        "runs.Run", null=True, blank=True, on_delete=models.CASCADE, related_name="comments"
    )
    comparison = models.ForeignKey(
        SavedComparison,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="comments",
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The name as written at the time, so the thread survives the user's deletion.
    author_label = models.CharField(max_length=150)
    body = models.TextField()
    body_html = models.TextField()
    mentions = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in"
    )
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["run", "created_at"], name="comment_run_created"),
            models.Index(fields=["comparison", "created_at"], name="comment_comparison_created"),
        ]
        constraints = [_one_target("comment_one_target")]

    def __str__(self) -> str:
        if self.comparison_id is not None:
            return f"comment {self.pk} on comparison {self.comparison_id}"
        return f"comment {self.pk} on run {self.run_id}"

    @property
    def target(self):
        """The run or the saved comparison this comment is on."""
        return self.comparison if self.comparison_id is not None else self.run


class ShareLink(models.Model):
    """A link that shows one run or one saved comparison (exactly one) read-only to
    whoever holds it, until it expires or is revoked. Only the SHA-256 of its token is
    stored. A comparison's link never shares files (``include_artifacts`` is False)."""

    run = models.ForeignKey(
        "runs.Run", null=True, blank=True, on_delete=models.CASCADE, related_name="share_links"
    )
    comparison = models.ForeignKey(
        SavedComparison,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="share_links",
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_label = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    include_artifacts = models.BooleanField(default=False)
    view_count = models.PositiveIntegerField(default=0)
    last_viewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [_one_target("share_link_one_target")]

    def __str__(self) -> str:
        if self.comparison_id is not None:
            return f"share link {self.pk} of comparison {self.comparison_id}"
        return f"share link {self.pk} of run {self.run_id}"

    @property
    def target(self):
        """The run or the saved comparison this link shows."""
        return self.comparison if self.comparison_id is not None else self.run

    @property
    def active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
