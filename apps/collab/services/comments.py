"""Writes for comments on a run or a saved comparison: post (or reply), edit, delete.
The body is markdown; mentions of project members are linked and announced."""

from __future__ import annotations

from urllib.parse import urlencode

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.principal import Principal
from apps.audit import registry as audit_actions
from apps.collab.models import Comment
from apps.collab.services.common import Target, maker_fields, target_audit, target_fields
from apps.core.errors import Forbidden, Invalid, not_found
from apps.core.markdown import markdown_render_mentions
from apps.events import registry as domain_events
from apps.events.services import event_emit
from apps.projects.access import require_role
from apps.projects.models import Membership, Project, Role
from apps.runs.links import runs_path
from apps.runs.models import Run

# A mention notification quotes at most this much of the comment.
MENTION_EXCERPT_MAX = 500


def _mention_urls(project: Project) -> dict[str, str]:
    """Username → link for everyone who may read the project (its members): only
    they can be mentioned. The link opens the runs they authored."""
    runs_url = runs_path(project.slug)
    usernames = Membership.objects.filter(project=project, user__is_active=True).values_list(
        "user__username", flat=True
    )
    return {name: f"{runs_url}?{urlencode({'filter': f'author = {name!r}'})}" for name in usernames}


def _render(comment: Comment, project: Project) -> list[str]:
    rendered = markdown_render_mentions(comment.body, mention_urls=_mention_urls(project))
    comment.body_html = str(rendered.html)
    return rendered.mentioned


def comment_create(
    *, principal: Principal, target: Target, body: str, parent_id: int | None = None
) -> Comment:
    """Comment on ``target``, a run or a saved comparison (anyone who can read its
    project, viewers included), or reply to one of its comments; a reply to a reply
    joins the thread of the comment it answers (threads are one level deep). Mentions
    of project members are linked, stored and sent in the ``comment.mention`` event
    after commit. ``body`` is checked beforehand (``apps.collab.validation``); Invalid
    naming ``parent`` when it is not a live comment on ``target``."""
    project = target.project
    is_run = isinstance(target, Run)
    require_role(principal, project, Role.VIEWER, what="run" if is_run else "comparison")
    maker = maker_fields(principal, "author")
    parent = None
    if parent_id is not None:
        parent = Comment.objects.filter(
            pk=parent_id, deleted_at__isnull=True, **target_fields(target)
        ).first()
        if parent is None:
            what = "run" if is_run else "comparison"
            raise Invalid(f"parent must be a live comment on this {what}", field="parent")
        if parent.parent_id is not None:
            parent = parent.parent
    comment = Comment(parent=parent, **maker, **target_fields(target))
    comment.body = body
    mentioned = _render(comment, project)
    with transaction.atomic():
        comment.save()
        users = list(User.objects.filter(username__in=mentioned))
        comment.mentions.set(users)
        target_audit(principal, target, audit_actions.COMMENT_CREATE, comment.pk, parent=parent_id)
        on = (
            {"run_id": target.public_id}
            if isinstance(target, Run)
            else {"comparison_id": target.pk}
        )
        if users:
            event_emit(
                type=domain_events.COMMENT_MENTION,
                project_id=project.pk,
                run_id=target.pk if is_run else None,
                payload={
                    "comment_id": comment.pk,
                    **on,
                    "author": comment.author_label,
                    "mentioned": sorted(user.username for user in users),
                    "excerpt": comment.body[:MENTION_EXCERPT_MAX],
                },
            )
    return comment


def comment_edit(*, principal: Principal, comment: Comment, body: str) -> Comment:
    """Change a comment's text to ``body`` (checked beforehand, as for a new comment;
    its author only); it is marked edited."""
    target = comment.target
    require_role(principal, target.project, Role.VIEWER, what="comment")
    if comment.deleted_at is not None:
        raise not_found("comment")
    if not principal.owns(user_id=comment.author_id, token_id=comment.created_by_token_id):
        raise Forbidden("only its author can edit a comment")
    comment.body = body
    mentioned = _render(comment, target.project)
    comment.edited_at = timezone.now()
    with transaction.atomic():
        comment.save(update_fields=["body", "body_html", "edited_at"])
        comment.mentions.set(User.objects.filter(username__in=mentioned))
        target_audit(principal, target, audit_actions.COMMENT_EDIT, comment.pk)
    return comment


def comment_delete(*, principal: Principal, comment: Comment) -> Comment:
    """Soft-delete a comment (its author, or a project admin): the thread keeps its
    place, shown as deleted; the text is gone. Deleting twice changes nothing."""
    target = comment.target
    role = require_role(principal, target.project, Role.VIEWER, what="comment")
    is_author = principal.owns(user_id=comment.author_id, token_id=comment.created_by_token_id)
    if not is_author and role < Role.ADMIN:
        raise Forbidden("only its author or a project admin can delete a comment")
    if comment.deleted_at is not None:
        return comment
    with transaction.atomic():
        comment.deleted_at = timezone.now()
        comment.body = ""
        comment.body_html = ""
        comment.save(update_fields=["deleted_at", "body", "body_html"])
        comment.mentions.clear()
        target_audit(
            principal, target, audit_actions.COMMENT_DELETE, comment.pk, by_author=is_author
        )
    return comment
