"""Reads of comments and share links, scoped to what the principal may read."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from apps.accounts.principal import Principal
from apps.collab.models import Comment, ShareLink
from apps.core.errors import not_found
from apps.projects.access import require_role
from apps.projects.models import Role
from apps.runs.models import Run


def _int_id(value: str, what: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise not_found(what)
    return int(value)


def comment_thread(*, run: Run) -> list[Comment]:
    """The run's top-level comments, oldest first, each with ``replies`` prefetched
    (oldest first) and the mentioned usernames. Deleted comments are kept (shown as
    deleted) so replies keep their place."""
    with_mentions = Comment.objects.prefetch_related("mentions").order_by("created_at", "pk")
    return list(
        with_mentions.filter(run=run, parent__isnull=True).prefetch_related(
            Prefetch("replies", queryset=with_mentions)
        )
    )


def comment_get_for_principal(
    *, principal: Principal, comment_id: str, needed: Role = Role.VIEWER
) -> Comment:
    """The comment, or NotFound when it does not exist or its run is not readable."""
    comment = (
        Comment.objects.select_related("run", "run__project")
        .filter(
            pk=_int_id(comment_id, "comment"),
            run__deleted_at__isnull=True,
            run__project__deleted_at__isnull=True,
        )
        .first()
    )
    if comment is None:
        raise not_found("comment")
    require_role(principal, comment.run.project, needed, what="comment")
    return comment


def share_links_for_run(*, run: Run) -> QuerySet[ShareLink]:
    return ShareLink.objects.filter(run=run).order_by("-created_at", "-pk")


def share_link_get_for_principal(*, principal: Principal, link_id: str) -> ShareLink:
    link = (
        ShareLink.objects.select_related("run", "run__project")
        .filter(
            pk=_int_id(link_id, "share link"),
            run__deleted_at__isnull=True,
            run__project__deleted_at__isnull=True,
        )
        .first()
    )
    if link is None:
        raise not_found("share link")
    require_role(principal, link.run.project, Role.VIEWER, what="share link")
    return link
