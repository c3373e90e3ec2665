"""Writes for saved comparisons, comments and share links. Each checks permission,
runs in one transaction with its audit event, and writes domain events to the outbox.

Comments and share links have a target: a run or a saved comparison. The project, the
permission check and the audit event's target all come from it.

Each row has one maker: a person (``author``/``created_by``) or a service token
(``created_by_token``), never both. "Its author", "its creator" below mean that maker,
as ``Principal.owns`` decides: a service token's creator does not own what the token
made, and the token does not own what its creator made."""

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
from apps.collab.models import (
    COMMENT_MAX_LENGTH,
    COMPARISON_MAX_RUNS,
    COMPARISON_MIN_RUNS,
    COMPARISON_NAME_MAX_LENGTH,
    Comment,
    SavedComparison,
    ShareLink,
)
from apps.core.errors import Forbidden, Invalid, not_found
from apps.core.markdown import markdown_render_mentions
from apps.core.throttles import client_address, first_in_window
from apps.events.services import event_emit
from apps.projects.access import require_role
from apps.projects.models import Membership, Project, Role
from apps.runs.models import Run
from apps.runs.selectors import run_list_for_project

SHARE_DEFAULT_SECONDS = 7 * 24 * 3600
SHARE_MAX_SECONDS = 90 * 24 * 3600
SHARE_MIN_SECONDS = 60
SHARE_TOKEN_BYTES = 32  # 256 bits from secrets
# A mention notification quotes at most this much of the comment.
MENTION_EXCERPT_MAX = 500

Target = Run | SavedComparison


def _target_of(target: Target) -> dict[str, object]:
    """The fields naming ``target`` on a comment or share link (for filters and rows)."""
    if isinstance(target, SavedComparison):
        return {"comparison": target}
    return {"run": target}


def _audit(principal: Principal, target: Target, action, target_id: str | int, **metadata) -> None:
    if isinstance(target, SavedComparison):
        kind, target_key = "comparison", target.pk
    else:
        kind, target_key = "run", target.public_id
    audit_record(
        principal=principal,
        action=action,
        project=target.project,
        target_type=kind,
        target_id=target_key,
        target_label=target.label,
        metadata={"id": target_id, **metadata},
    )


# -- saved comparisons -------------------------------------------------------------------


def comparison_create(
    *, principal: Principal, project: Project, name: object, run_ids: object
) -> SavedComparison:
    """Save a comparison of 2 to 20 live runs of ``project`` (members and admins) under
    ``name`` (1 to 100 characters). Repeated ids count once; the order is kept."""
    require_role(principal, project, Role.MEMBER)
    maker = _maker(principal, "created_by")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("name must be non-empty text", field="name")
    name = name.strip()
    if len(name) > COMPARISON_NAME_MAX_LENGTH:
        raise Invalid(
            f"name must be at most {COMPARISON_NAME_MAX_LENGTH} characters (got {len(name)})",
            field="name",
        )
    if not isinstance(run_ids, list) or not all(isinstance(x, str) for x in run_ids):
        raise Invalid("runs must be a list of run ids", field="runs")
    ids = list(dict.fromkeys(x.strip() for x in run_ids if x.strip()))
    if not COMPARISON_MIN_RUNS <= len(ids) <= COMPARISON_MAX_RUNS:
        raise Invalid(
            f"a comparison holds {COMPARISON_MIN_RUNS} to {COMPARISON_MAX_RUNS} runs "
            f"(got {len(ids)})",
            field="runs",
        )
    live = set(
        run_list_for_project(project=project)
        .filter(public_id__in=ids)
        .values_list("public_id", flat=True)
    )
    if len(live) != len(ids):
        raise Invalid("every run must be a live run of this project", field="runs")
    with transaction.atomic():
        comparison = SavedComparison.objects.create(
            project=project,
            name=name,
            run_ids=ids,
            **maker,
        )
        _audit(principal, comparison, audit_actions.COMPARISON_CREATE, comparison.pk, runs=ids)
    return comparison


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


def _maker(principal: Principal, user_field: str) -> dict[str, object]:
    """The fields naming ``principal`` as a new row's maker: the person in
    ``user_field`` or the service token in ``created_by_token``, and the label kept
    for when either is gone. Forbidden for the system and share-link visitors."""
    token = principal.service_token
    if principal.person is None and token is None:
        raise Forbidden("only a user or a service token can write this")
    return {
        user_field: principal.person,
        "created_by_token": token,
        f"{user_field}_label": principal.label,
    }


def comment_create(
    *, principal: Principal, target: Target, body: object, parent_id: object = None
) -> Comment:
    """Comment on ``target``, a run or a saved comparison (anyone who can read its
    project, viewers included), or reply to one of its comments; a reply to a reply
    joins the thread of the comment it answers (threads are one level deep). Mentions
    of project members are linked, stored and sent in the ``comment.posted`` event
    after commit."""
    project = target.project
    is_run = isinstance(target, Run)
    require_role(principal, project, Role.VIEWER, what="run" if is_run else "comparison")
    maker = _maker(principal, "author")
    body = _body_clean(body)
    parent = None
    if parent_id is not None:
        if type(parent_id) is not int:
            raise Invalid("parent must be a comment id (an integer)", field="parent")
        parent = Comment.objects.filter(
            pk=parent_id, deleted_at__isnull=True, **_target_of(target)
        ).first()
        if parent is None:
            what = "run" if is_run else "comparison"
            raise Invalid(f"parent must be a live comment on this {what}", field="parent")
        if parent.parent_id is not None:
            parent = parent.parent
    comment = Comment(parent=parent, **maker, **_target_of(target))
    comment.body = body
    mentioned = _render(comment, project)
    with transaction.atomic():
        comment.save()
        users = list(User.objects.filter(username__in=mentioned))
        comment.mentions.set(users)
        _audit(principal, target, audit_actions.COMMENT_CREATE, comment.pk, parent=parent_id)
        on = {"run_id": target.public_id} if is_run else {"comparison_id": target.pk}
        event_emit(
            type="comment.posted",
            project_id=project.pk,
            run_id=target.pk if is_run else None,
            payload={
                "comment_id": comment.pk,
                **on,
                "project": project.slug,
                "author": comment.author_label,
                "mentioned": sorted(user.username for user in users),
            },
        )
        if users:
            event_emit(
                type="comment.mention",
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


def comment_edit(*, principal: Principal, comment: Comment, body: object) -> Comment:
    """Change a comment's text (its author only); it is marked edited."""
    target = comment.target
    require_role(principal, target.project, Role.VIEWER, what="comment")
    if comment.deleted_at is not None:
        raise not_found("comment")
    if not principal.owns(user_id=comment.author_id, token_id=comment.created_by_token_id):
        raise Forbidden("only its author can edit a comment")
    comment.body = _body_clean(body)
    mentioned = _render(comment, target.project)
    comment.edited_at = timezone.now()
    with transaction.atomic():
        comment.save(update_fields=["body", "body_html", "edited_at"])
        comment.mentions.set(User.objects.filter(username__in=mentioned))
        _audit(principal, target, audit_actions.COMMENT_EDIT, comment.pk)
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
        _audit(principal, target, audit_actions.COMMENT_DELETE, comment.pk, by_author=is_author)
    return comment


# -- share links -------------------------------------------------------------------------


def share_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedShareLink:
    link: ShareLink
    token: str  # shown once; only its hash is stored


def share_link_create(
    *,
    principal: Principal,
    target: Target,
    expires_in: object = None,
    include_artifacts: object = False,
    include_git_diff: object = False,
    include_command: object = False,
    include_host: object = False,
    include_directory: object = False,
    include_environment: object = False,
    include_ci: object = False,
) -> CreatedShareLink:
    """A link showing ``target`` (a run or a saved comparison) read-only to anyone
    holding it, for ``expires_in`` seconds (default 7 days, at most 90). Members and
    admins; not while the project has sharing turned off.

    A run's link shows its name, status, params, metrics, summary and notes
    (``SHARE_SHOWN``), and each of ``SHARE_PARTS`` only when its ``include_<part>`` is
    True; each must be a boolean (Invalid naming the field). A comparison's page shows
    none of those parts, so for a comparison they are checked and then ignored."""
    is_run = isinstance(target, Run)
    require_role(principal, target.project, Role.MEMBER, what="run" if is_run else "comparison")
    if not target.project.sharing_enabled:
        raise Forbidden("link sharing is turned off for this project", code="sharing_disabled")
    if expires_in is None:
        expires_in = SHARE_DEFAULT_SECONDS
    if type(expires_in) is not int or not SHARE_MIN_SECONDS <= expires_in <= SHARE_MAX_SECONDS:
        raise Invalid(
            f"expires_in must be whole seconds from {SHARE_MIN_SECONDS} to {SHARE_MAX_SECONDS} "
            "(90 days)",
            field="expires_in",
        )
    flags = {
        "include_artifacts": include_artifacts,
        "include_git_diff": include_git_diff,
        "include_command": include_command,
        "include_host": include_host,
        "include_directory": include_directory,
        "include_environment": include_environment,
        "include_ci": include_ci,
    }
    for field, value in flags.items():
        if type(value) is not bool:
            raise Invalid(f"{field} must be true or false", field=field)
    include = {field: value and is_run for field, value in flags.items()}
    maker = _maker(principal, "created_by")
    token = secrets.token_urlsafe(SHARE_TOKEN_BYTES)
    with transaction.atomic():
        link = ShareLink.objects.create(
            **_target_of(target),
            token_hash=share_token_hash(token),
            **maker,
            expires_at=timezone.now() + timedelta(seconds=expires_in),
            **include,
        )
        _audit(
            principal,
            target,
            audit_actions.SHARE_LINK_CREATE,
            link.pk,
            expires_at=link.expires_at.isoformat(),
            include_artifacts=link.include_artifacts,
            reveals=link.reveals,
        )
    return CreatedShareLink(link=link, token=token)


def share_link_revoke(*, principal: Principal, link: ShareLink) -> ShareLink:
    """Revoke a link (its creator, or a project admin); it is dead at once."""
    target = link.target
    role = require_role(principal, target.project, Role.VIEWER, what="share link")
    is_creator = principal.owns(user_id=link.created_by_id, token_id=link.created_by_token_id)
    if not is_creator and role < Role.ADMIN:
        raise Forbidden("only its creator or a project admin can revoke a share link")
    if link.revoked_at is not None:
        return link
    with transaction.atomic():
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
        _audit(principal, target, audit_actions.SHARE_LINK_REVOKE, link.pk)
    return link


def share_link_check(*, token: object) -> ShareLink:
    """The live link ``token`` names. Malformed, unknown, expired, revoked, of a
    deleted run or project, or with sharing turned off: the same NotFound. Always
    read from the database, so a revoked link is dead on every web process at once."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise not_found("share link")
    digest = share_token_hash(token)
    link = (
        ShareLink.objects.select_related("run", "run__project", "comparison__project")
        .filter(token_hash=digest)
        .first()
    )
    if (
        link is None
        or not hmac.compare_digest(link.token_hash, digest)
        or not link.active
        or (link.run is not None and link.run.deleted_at is not None)
        or link.target.project.deleted_at is not None
        or not link.target.project.sharing_enabled
    ):
        raise not_found("share link")
    return link


# A link opened again and again from one address is one ``share_link.access`` row per
# this many seconds (a clock hour), so reloads and crawlers cannot flood the audit log.
SHARE_ACCESS_AUDIT_SECONDS = 3600


def share_link_open(*, token: object, request) -> ShareLink:
    """As ``share_link_check``, for opening the shared page: every view is counted
    (``view_count``, ``last_viewed_at``), and recorded in the audit log with the
    visitor's ip and user agent at most once per link, client address and clock hour.
    That limit is kept in the cache: exact across processes with Redis, per process
    without it, and a cache that fails records every view rather than none."""
    link = share_link_check(token=token)
    visitor = Principal.for_share_link(link, request)
    # The token's hash, not the link's id: ids are reused by a restored database (and
    # by tests); the hash never is. Its first half is plenty to tell links apart.
    key = f"share-access:{link.token_hash[:32]}:{client_address(request)}"
    audit = first_in_window(key, SHARE_ACCESS_AUDIT_SECONDS)
    with transaction.atomic():
        ShareLink.objects.filter(pk=link.pk).update(
            view_count=F("view_count") + 1, last_viewed_at=timezone.now()
        )
        if audit:
            _audit(visitor, link.target, audit_actions.SHARE_LINK_ACCESS, link.pk)
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
