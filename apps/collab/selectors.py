"""Reads of saved comparisons, comments and share links, scoped to what the principal
may read."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from apps.accounts.principal import Principal
from apps.collab.models import Comment, SavedComparison, ShareLink
from apps.core.errors import not_found
from apps.core.ids import id_parse
from apps.projects.access import require_role
from apps.projects.models import Project, Role
from apps.runs.models import Run


def _int_id(value: str, what: str) -> int:
    pk = id_parse(value)
    if pk is None:
        raise not_found(what)
    return pk


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


def comparison_list_for_project(*, project: Project) -> QuerySet[SavedComparison]:
    """The project's saved comparisons, newest first. The caller has checked that the
    principal may read the project."""
    return SavedComparison.objects.filter(project=project).order_by("-created_at")


# However long a thread grows, a listing carries this many of its replies (the API
# the first ones, the portal the newest); the rest are fetched a page at a time.
REPLIES_SHOWN = 20
# The portal shows this many threads at first, the newest; earlier ones on request.
THREADS_SHOWN = 50


def comment_threads(*, target: Run | SavedComparison) -> QuerySet[Comment]:
    """The top-level comments on a run or a saved comparison, oldest first, each with
    its first ``REPLIES_SHOWN + 1`` replies as ``first_replies`` (oldest first: one
    more than a listing shows, so that it knows whether more follow) and the
    mentioned usernames. Deleted comments are kept (shown as deleted) so replies keep
    their place."""
    with_mentions = Comment.objects.prefetch_related("mentions").order_by("created_at", "pk")
    return with_mentions.filter(parent__isnull=True, **_on(target)).prefetch_related(
        Prefetch("replies", queryset=with_mentions[: REPLIES_SHOWN + 1], to_attr="first_replies")
    )


def comment_first_replies(*, comment: Comment) -> list[Comment]:
    """The first ``REPLIES_SHOWN + 1`` replies to ``comment``, oldest first: the
    prefetched ones of ``comment_threads``, or one query."""
    prefetched = getattr(comment, "first_replies", None)
    if prefetched is not None:
        return prefetched
    return list(comment_replies(comment=comment).order_by("created_at", "pk")[: REPLIES_SHOWN + 1])


def comment_replies(*, comment: Comment) -> QuerySet[Comment]:
    """The replies to ``comment`` with their mentions, for pages of them (none when
    ``comment`` is itself a reply: replies are one level deep)."""
    return Comment.objects.filter(parent=comment).prefetch_related("mentions")


@dataclass
class ThreadPage:
    """What the portal shows of a thread or of its replies: ``items`` oldest first,
    and whether earlier ones exist (a "show earlier" button fetches them)."""

    items: list[Comment]
    earlier: bool


def _newest(rows: QuerySet[Comment], before: Comment | None, size: int) -> ThreadPage:
    if before is not None:
        rows = rows.filter(
            Q(created_at__lt=before.created_at) | Q(created_at=before.created_at, pk__lt=before.pk)
        )
    newest = list(rows.order_by("-created_at", "-pk")[: size + 1])
    return ThreadPage(items=newest[:size][::-1], earlier=len(newest) > size)


def comment_thread_recent(
    *, target: Run | SavedComparison, before: Comment | None = None
) -> ThreadPage:
    """The portal's thread: the newest ``THREADS_SHOWN`` top-level comments (older
    than ``before`` when given), each carrying ``shown_replies``, a ThreadPage of its
    newest ``REPLIES_SHOWN`` replies. A new comment or reply is always in view."""
    newest_replies = Comment.objects.prefetch_related("mentions").order_by("-created_at", "-pk")
    # ``newest_replies`` is declared on Comment, so that it is known on the rows that
    # _newest returns; django-stubs reports a to_attr declared there as a redefinition.
    top = (
        Comment.objects.filter(parent__isnull=True, **_on(target))  # type: ignore[no-redef]
        .prefetch_related("mentions")
        .prefetch_related(
            Prefetch(
                "replies",
                queryset=newest_replies[: REPLIES_SHOWN + 1],
                to_attr="newest_replies",
            )
        )
    )
    page = _newest(top, before, THREADS_SHOWN)
    for thread in page.items:
        newest = thread.newest_replies
        thread.shown_replies = ThreadPage(
            items=newest[:REPLIES_SHOWN][::-1], earlier=len(newest) > REPLIES_SHOWN
        )
    return page


def comment_replies_recent(*, thread: Comment, before: Comment | None = None) -> ThreadPage:
    """The newest ``REPLIES_SHOWN`` replies to ``thread`` (older than ``before``)."""
    return _newest(comment_replies(comment=thread), before, REPLIES_SHOWN)


def comment_get_on(*, target: Run | SavedComparison, comment_id: str) -> Comment:
    """The comment (top-level or a reply) with this id on ``target``, which the caller
    has checked the principal may read; NotFound for an id that is missing, no
    database id, or of a comment on something else."""
    comment = Comment.objects.filter(pk=_int_id(comment_id, "comment"), **_on(target)).first()
    if comment is None:
        raise not_found("comment")
    setattr(comment, "comparison" if isinstance(target, SavedComparison) else "run", target)
    return comment


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
    if comment is None or comment.run is None:  # the query asks for a run: never None
        raise not_found("comment")
    require_role(principal, comment.run.project, needed, what="comment")
    return comment


def share_links_for(*, target: Run | SavedComparison) -> QuerySet[ShareLink]:
    """The share links of a run or a saved comparison, newest first."""
    return ShareLink.objects.filter(**_on(target)).order_by("-created_at", "-pk")


def share_link_get_on(*, target: Run | SavedComparison, link_id: str) -> ShareLink:
    """The share link with this id of ``target``, which the caller has checked the
    principal may read; NotFound for an id that is missing, no database id, or of a
    link to something else."""
    link = ShareLink.objects.filter(pk=_int_id(link_id, "share link"), **_on(target)).first()
    if link is None:
        raise not_found("share link")
    setattr(link, "comparison" if isinstance(target, SavedComparison) else "run", target)
    return link


def share_link_active_count(*, project: Project) -> int:
    """How many share links of the project work now: of its live runs or its saved
    comparisons, neither revoked nor expired. The caller has checked that the
    principal may read the project."""
    return ShareLink.objects.filter(
        Q(run__project=project, run__deleted_at__isnull=True) | Q(comparison__project=project),
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).count()


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
    if link is None or link.run is None:  # the query asks for a run: never None
        raise not_found("share link")
    require_role(principal, link.run.project, Role.VIEWER, what="share link")
    return link
