"""Comments on runs, and share links that show one run to people without an account."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

COMMENT_MAX_LENGTH = 20_000


class Comment(models.Model):
    """A comment on a run, or a reply to one (one level deep). ``body`` is the
    author's markdown; ``body_html`` its sanitised rendering, made when it is written.
    Deleting is soft: the row stays to keep the thread's shape, its text goes."""

    run = models.ForeignKey("runs.Run", on_delete=models.CASCADE, related_name="comments")
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
        indexes = [models.Index(fields=["run", "created_at"], name="comment_run_created")]

    def __str__(self) -> str:
        return f"comment {self.pk} on run {self.run_id}"


class ShareLink(models.Model):
    """A link that shows one run read-only to whoever holds it, until it expires or is
    revoked. Only the SHA-256 of its token is stored."""

    run = models.ForeignKey("runs.Run", on_delete=models.CASCADE, related_name="share_links")
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

    def __str__(self) -> str:
        return f"share link {self.pk} of run {self.run_id}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
