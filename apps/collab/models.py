"""Comments on runs and saved comparisons, and share links that show one run or one
saved comparison to people without an account."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils import timezone

if TYPE_CHECKING:
    from apps.collab.selectors import ThreadPage

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


def _token_fk() -> models.ForeignKey:
    """Who made a row when a service token did (its creator is not the owner). Kept
    NULL when the token row is deleted; the row's label still names it."""
    return models.ForeignKey(
        "accounts.ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
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
    # Set instead of ``created_by`` when a service token saved it: the token, not its
    # creator, owns it (apps.accounts.principal.Principal.owns).
    created_by_token = _token_fk()
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
    # Set instead of ``author`` when a service token wrote it.
    created_by_token = _token_fk()
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
    # Set on a thread's top-level comments by selectors.comment_thread_recent: its
    # newest replies (prefetched) and the page of them that the portal shows.
    newest_replies: list[Comment]
    shown_replies: ThreadPage

    class Meta:
        indexes = [
            models.Index(fields=["run", "created_at"], name="comment_run_created"),
            models.Index(fields=["comparison", "created_at"], name="comment_comparison_created"),
            # A thread's replies are read in pages, oldest or newest first.
            models.Index(fields=["parent", "created_at"], name="comment_parent_created"),
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


@dataclass(frozen=True)
class SharePart:
    """A part of a run that its share link shows only when its creator ticks it. The
    link's field is ``include_<name>``; the API's ``reveals`` list names it ``<name>``."""

    name: str
    label: str  # the share panel's checkbox and its "will show" list
    short: str  # a link's row: what it reveals beyond the defaults


# What a run's link always shows: what a reader needs to follow the result, and nothing
# that says where or how it was made (see SHARE_PARTS).
SHARE_SHOWN = (
    "The run's name, status, author, times and tags",
    "Params",
    "Metrics and charts",
    "Summary",
    "Notes",
    "Dataset names, digests and sizes",
)
# What a saved comparison's link shows: its compare page holds nothing else, so none of
# SHARE_PARTS applies to it.
SHARE_SHOWN_COMPARISON = ("Each run's name and status", "Params", "Metrics and charts")
# What a run's link shows only when ticked, in the panel's order. Git's commit, branch
# and remote go with the diff: the remote names the (often private) repository and can
# carry credentials in forms no redaction knows, a branch often names the work in
# progress, and a commit means nothing to a reader without the repository.
SHARE_PARTS = (
    SharePart("git_diff", "Git state: commit, branch, remote and uncommitted diff", "git"),
    SharePart("command", "The command line", "command line"),
    SharePart("host", "The hostname", "hostname"),
    SharePart("directory", "The working directory and the datasets' locations", "directories"),
    SharePart(
        "environment",
        "The environment: Python, OS, CPUs, memory, GPUs and installed packages",
        "environment",
    ),
    SharePart("ci", "CI details: the CI context, badge, links and report", "CI"),
    SharePart("artifacts", "The files (browse and download the artifacts)", "files"),
)
SHARE_PART_NAMES = tuple(part.name for part in SHARE_PARTS)


class ShareLink(models.Model):
    """A link that shows one run or one saved comparison (exactly one) read-only to
    whoever holds it, until it expires or is revoked. Only the SHA-256 of its token is
    stored. A run's link shows SHARE_SHOWN and, of SHARE_PARTS, only those its
    ``include_*`` fields name; a comparison's link shows SHARE_SHOWN_COMPARISON, and
    all its ``include_*`` fields are False."""

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
    # Set instead of ``created_by`` when a service token made it.
    created_by_token = _token_fk()
    created_by_label = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    include_artifacts = models.BooleanField(default=False)
    include_git_diff = models.BooleanField(default=False)
    include_command = models.BooleanField(default=False)
    include_host = models.BooleanField(default=False)
    include_directory = models.BooleanField(default=False)
    include_environment = models.BooleanField(default=False)
    include_ci = models.BooleanField(default=False)
    view_count = models.PositiveIntegerField(default=0)
    last_viewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            _one_target("share_link_one_target"),
            models.CheckConstraint(
                condition=models.Q(run__isnull=False)
                | models.Q(
                    include_artifacts=False,
                    include_git_diff=False,
                    include_command=False,
                    include_host=False,
                    include_directory=False,
                    include_environment=False,
                    include_ci=False,
                ),
                name="share_link_comparison_reveals_nothing",
            ),
        ]

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

    @property
    def reveals(self) -> list[str]:
        """The names of the SHARE_PARTS this link shows, in SHARE_PARTS order."""
        return [name for name in SHARE_PART_NAMES if getattr(self, f"include_{name}")]

    @property
    def reveal_parts(self) -> list[SharePart]:
        return [part for part in SHARE_PARTS if getattr(self, f"include_{part.name}")]
