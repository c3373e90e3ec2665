"""Writes for comments and share links. Each checks permission, runs in one
transaction with its audit event, and writes domain events to the outbox."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.principal import Principal
from apps.audit import registry as audit_actions
from apps.audit.services import audit_record
from apps.collab.models import COMMENT_MAX_LENGTH, Comment, ShareLink
from apps.core.errors import Forbidden, Invalid, not_found
from apps.core.markdown import markdown_render_mentions
from apps.events.services import event_emit
from apps.projects.access import require_role
from apps.projects.models import Membership, Project, Role
from apps.runs.models import Run

SHARE_DEFAULT_SECONDS = 7 * 24 * 3600
SHARE_MAX_SECONDS = 90 * 24 * 3600
SHARE_MIN_SECONDS = 60
SHARE_TOKEN_BYTES = 32  # 256 bits from secrets


def _audit(principal: Principal, run: Run, action, target_id: str | int, **metadata) -> None:
    audit_record(
        principal=principal,
        action=action,
        project=run.project,
        target_type="run",
        target_id=run.public_id,
        target_label=run.label,
        metadata={"id": target_id, **metadata},
    )


# -- comments --------------------------------------------------------------------------


def _mention_urls(project: Project) -> dict[str, str]:
    """Username → link for everyone who may read the project (its members): only
    they can be mentioned. The link opens the runs they authored."""
    runs_url = reverse("portal:runs", kwargs={"slug": project.slug})
    usernames = Membership.objects.filter(project=project, user__is_active=True).values_list(
        "user__username", flat=True
    )
    return {name: f"{runs_url}?{urlencode({'filter': f'author = {name!r}'})}" for name in usernames}


def _body_clean(body: object) -> str:
    if not isinstance(body, str) or not body.strip():
        raise Invalid("body must be non-empty markdown text", field="body")
    if len(body) > COMMENT_MAX_LENGTH:
        raise Invalid(
            f"body must be at most {COMMENT_MAX_LENGTH:,} characters (got {len(body):,})",
            field="body",
        )
    return body


def _render(comment: Comment, project: Project) -> list[str]:
    rendered = markdown_render_mentions(comment.body, mention_urls=_mention_urls(project))
    comment.body_html = str(rendered.html)
    return rendered.mentioned


def _author_of(principal: Principal) -> User:
    if principal.user is None:
        raise Forbidden("only a user can comment")
    return principal.user


def comment_create(
    *, principal: Principal, run: Run, body: object, parent_id: object = None
) -> Comment:
    """Comment on ``run`` (anyone who can read it, viewers included), or reply to one
    of its comments; a reply to a reply joins the thread of the comment it answers
    (threads are one level deep). Mentions of project members are linked, stored and
    sent in the ``comment.posted`` event after commit."""
    require_role(principal, run.project, Role.VIEWER, what="run")
    author = _author_of(principal)
    body = _body_clean(body)
    parent = None
    if parent_id is not None:
        if type(parent_id) is not int:
            raise Invalid("parent must be a comment id (an integer)", field="parent")
        parent = Comment.objects.filter(pk=parent_id, run=run, deleted_at__isnull=True).first()
        if parent is None:
            raise Invalid("parent must be a live comment on this run", field="parent")
        if parent.parent_id is not None:
            parent = parent.parent
    comment = Comment(run=run, parent=parent, author=author, author_label=author.username)
    comment.body = body
    mentioned = _render(comment, run.project)
    with transaction.atomic():
        comment.save()
        users = list(User.objects.filter(username__in=mentioned))
        comment.mentions.set(users)
        _audit(principal, run, audit_actions.COMMENT_CREATE, comment.pk, parent=parent_id)
        event_emit(
            type="comment.posted",
            project_id=run.project_id,
            run_id=run.pk,
            payload={
                "comment_id": comment.pk,
                "run_id": run.public_id,
                "project": run.project.slug,
                "author": author.username,
                "mentioned": sorted(user.username for user in users),
            },
        )
    return comment


def comment_edit(*, principal: Principal, comment: Comment, body: object) -> Comment:
    """Change a comment's text (its author only); it is marked edited."""
    run = comment.run
    require_role(principal, run.project, Role.VIEWER, what="comment")
    if comment.deleted_at is not None:
        raise not_found("comment")
    if principal.user is None or comment.author_id != principal.user.pk:
        raise Forbidden("only its author can edit a comment")
    comment.body = _body_clean(body)
    mentioned = _render(comment, run.project)
    comment.edited_at = timezone.now()
    with transaction.atomic():
        comment.save(update_fields=["body", "body_html", "edited_at"])
        comment.mentions.set(User.objects.filter(username__in=mentioned))
        _audit(principal, run, audit_actions.COMMENT_EDIT, comment.pk)
    return comment


def comment_delete(*, principal: Principal, comment: Comment) -> Comment:
    """Soft-delete a comment (its author, or a project admin): the thread keeps its
    place, shown as deleted; the text is gone. Deleting twice changes nothing."""
    run = comment.run
    role = require_role(principal, run.project, Role.VIEWER, what="comment")
    is_author = principal.user is not None and comment.author_id == principal.user.pk
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
        _audit(principal, run, audit_actions.COMMENT_DELETE, comment.pk, by_author=is_author)
    return comment


# -- share links -------------------------------------------------------------------------


def share_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedShareLink:
    link: ShareLink
    token: str  # shown once; only its hash is stored


def share_link_create(
    *, principal: Principal, run: Run, expires_in: object = None, include_artifacts: object = False
) -> CreatedShareLink:
    """A link showing ``run`` read-only to anyone holding it, for ``expires_in``
    seconds (default 7 days, at most 90). Members and admins; not while the project
    has sharing turned off."""
    require_role(principal, run.project, Role.MEMBER, what="run")
    if not run.project.sharing_enabled:
        raise Forbidden("link sharing is turned off for this project", code="sharing_disabled")
    if expires_in is None:
        expires_in = SHARE_DEFAULT_SECONDS
    if type(expires_in) is not int or not SHARE_MIN_SECONDS <= expires_in <= SHARE_MAX_SECONDS:
        raise Invalid(
            f"expires_in must be whole seconds from {SHARE_MIN_SECONDS} to {SHARE_MAX_SECONDS} "
            "(90 days)",
            field="expires_in",
        )
    if type(include_artifacts) is not bool:
        raise Invalid("include_artifacts must be true or false", field="include_artifacts")
    author = _author_of(principal)
    token = secrets.token_urlsafe(SHARE_TOKEN_BYTES)
    with transaction.atomic():
        link = ShareLink.objects.create(
            run=run,
            token_hash=share_token_hash(token),
            created_by=author,
            created_by_label=author.username,
            expires_at=timezone.now() + timedelta(seconds=expires_in),
            include_artifacts=include_artifacts,
        )
        _audit(
            principal,
            run,
            audit_actions.SHARE_LINK_CREATE,
            link.pk,
            expires_at=link.expires_at.isoformat(),
            include_artifacts=include_artifacts,
        )
    return CreatedShareLink(link=link, token=token)


def share_link_revoke(*, principal: Principal, link: ShareLink) -> ShareLink:
    """Revoke a link (its creator, or a project admin); it is dead at once."""
    run = link.run
    role = require_role(principal, run.project, Role.VIEWER, what="share link")
    is_creator = principal.user is not None and link.created_by_id == principal.user.pk
    if not is_creator and role < Role.ADMIN:
        raise Forbidden("only its creator or a project admin can revoke a share link")
    if link.revoked_at is not None:
        return link
    with transaction.atomic():
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
        _audit(principal, run, audit_actions.SHARE_LINK_REVOKE, link.pk)
    return link


def share_link_check(*, token: object) -> ShareLink:
    """The live link ``token`` names. Malformed, unknown, expired, revoked, of a
    deleted run or project, or with sharing turned off: the same NotFound. Always
    read from the database, so a revoked link is dead on every web process at once."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise not_found("share link")
    digest = share_token_hash(token)
    link = ShareLink.objects.select_related("run", "run__project").filter(token_hash=digest).first()
    if (
        link is None
        or not hmac.compare_digest(link.token_hash, digest)
        or not link.active
        or link.run.deleted_at is not None
        or link.run.project.deleted_at is not None
        or not link.run.project.sharing_enabled
    ):
        raise not_found("share link")
    return link


def share_link_open(*, token: object, request) -> ShareLink:
    """As ``share_link_check``, for opening the shared page: the view is counted and
    recorded in the audit log with the visitor's ip and user agent."""
    link = share_link_check(token=token)
    visitor = Principal.for_share_link(link, request)
    with transaction.atomic():
        ShareLink.objects.filter(pk=link.pk).update(
            view_count=F("view_count") + 1, last_viewed_at=timezone.now()
        )
        _audit(visitor, link.run, audit_actions.SHARE_LINK_ACCESS, link.pk)
    return link


def project_sharing_set(*, principal: Principal, project: Project, enabled: bool) -> Project:
    """Turn link sharing on or off for a project (admins). Off: every link of the
    project stops working at once; on again: unexpired, unrevoked links work again."""
    require_role(principal, project, Role.ADMIN)
    if project.sharing_enabled == enabled:
        return project
    with transaction.atomic():
        project.sharing_enabled = enabled
        project.save(update_fields=["sharing_enabled"])
        audit_record(
            principal=principal,
            action=audit_actions.SETTINGS_SHARING,
            project=project,
            target_type="project",
            target_id=project.pk,
            target_label=project.slug,
            metadata={"sharing_enabled": enabled},
        )
    return project
