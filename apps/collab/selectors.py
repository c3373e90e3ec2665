"""Reads of saved comparisons, comments and share links, scoped to what the principal
may read."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from apps.accounts.principal import Principal
from apps.collab.models import Comment, SavedComparison, ShareLink
from apps.core.errors import not_found
from apps.projects.access import require_role
from apps.projects.models import Project, Role
from apps.runs.models import Run


def _int_id(value: str, what: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise not_found(what)
    return int(value)


def _on(target: Run | SavedComparison) -> dict[str, object]:
    return {"comparison": target} if isinstance(target, SavedComparison) else {"run": target}


def comparison_get_in_project(*, project: Project, comparison_id: str) -> SavedComparison:
    """The project's saved comparison with this id, or NotFound. The caller has
    checked that the principal may read the project."""
    comparison = SavedComparison.objects.filter(
        pk=_int_id(comparison_id, "comparison"), project=project
    ).first()
    if comparison is None:
        raise not_found("comparison")
    comparison.project = project
    return comparison


def comment_thread(*, target: Run | SavedComparison) -> list[Comment]:
    """The top-level comments on a run or a saved comparison, oldest first, each with
    ``replies`` prefetched (oldest first) and the mentioned usernames. Deleted
    comments are kept (shown as deleted) so replies keep their place."""
    return list(comment_threads(target=target))


def comment_threads(*, target: Run | SavedComparison) -> QuerySet[Comment]:
    """``comment_thread`` as a query, for pages of it."""
    with_mentions = Comment.objects.prefetch_related("mentions").order_by("created_at", "pk")
    return with_mentions.filter(parent__isnull=True, **_on(target)).prefetch_related(
        Prefetch("replies", queryset=with_mentions)
    )


def comment_get_for_principal(
    *, principal: Principal, comment_id: str, needed: Role = Role.VIEWER
) -> Comment:
    """The comment on a run, or NotFound when it does not exist, is on a saved
    comparison (the API names runs only), or its run is not readable."""
    comment = (
        Comment.objects.select_related("run", "run__project")
        .filter(
            pk=_int_id(comment_id, "comment"),
            run__isnull=False,
            run__deleted_at__isnull=True,
            run__project__deleted_at__isnull=True,
        )
        .first()
    )
    if comment is None:
        raise not_found("comment")
    require_role(principal, comment.run.project, needed, what="comment")
    return comment


def share_links_for(*, target: Run | SavedComparison) -> QuerySet[ShareLink]:
    """The share links of a run or a saved comparison, newest first."""
    return ShareLink.objects.filter(**_on(target)).order_by("-created_at", "-pk")


def share_link_get_for_principal(*, principal: Principal, link_id: str) -> ShareLink:
    link = (
        ShareLink.objects.select_related("run", "run__project")
        .filter(
            pk=_int_id(link_id, "share link"),
            run__isnull=False,
            run__deleted_at__isnull=True,
            run__project__deleted_at__isnull=True,
        )
        .first()
    )
    if link is None:
        raise not_found("share link")
    require_role(principal, link.run.project, Role.VIEWER, what="share link")
    return link
