"""Writes for share links: a link showing one run or saved comparison read-only to
anyone holding it, until it expires or is revoked; and the project's switch that turns
every link off at once. Only the token's hash is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.accounts.principal import Principal
from apps.audit import registry as audit_actions
from apps.audit.services import audit_record
from apps.collab.models import ShareLink
from apps.collab.services.common import Target, maker_fields, target_audit, target_fields
from apps.collab.validation import SHARE_DEFAULT_SECONDS
from apps.core.errors import Forbidden, not_found
from apps.core.throttles import client_address, first_in_window
from apps.projects.access import require_role
from apps.projects.models import Project, Role
from apps.runs.models import Run

SHARE_TOKEN_BYTES = 32  # 256 bits from secrets


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
    expires_in: int = SHARE_DEFAULT_SECONDS,
    include_artifacts: bool = False,
    include_git_diff: bool = False,
    include_command: bool = False,
    include_host: bool = False,
    include_directory: bool = False,
    include_environment: bool = False,
    include_ci: bool = False,
) -> CreatedShareLink:
    """A link showing ``target`` (a run or a saved comparison) read-only to anyone
    holding it, for ``expires_in`` seconds (checked beforehand, as
    ``apps.collab.validation`` does). Members and admins; Forbidden while the project
    has sharing turned off.

    A run's link shows its name, status, params, metrics, summary and notes
    (``SHARE_SHOWN``), and each of ``SHARE_PARTS`` only when its ``include_<part>`` is
    True. A comparison's page shows none of those parts, so for a comparison they are
    ignored."""
    is_run = isinstance(target, Run)
    require_role(principal, target.project, Role.MEMBER, what="run" if is_run else "comparison")
    if not target.project.sharing_enabled:
        raise Forbidden("link sharing is turned off for this project", code="sharing_disabled")
    flags = {
        "include_artifacts": include_artifacts,
        "include_git_diff": include_git_diff,
        "include_command": include_command,
        "include_host": include_host,
        "include_directory": include_directory,
        "include_environment": include_environment,
        "include_ci": include_ci,
    }
    include = {field: value and is_run for field, value in flags.items()}
    maker = maker_fields(principal, "created_by")
    token = secrets.token_urlsafe(SHARE_TOKEN_BYTES)
    with transaction.atomic():
        link = ShareLink.objects.create(
            **target_fields(target),
            token_hash=share_token_hash(token),
            **maker,
            expires_at=timezone.now() + timedelta(seconds=expires_in),
            **include,
        )
        target_audit(
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
        target_audit(principal, target, audit_actions.SHARE_LINK_REVOKE, link.pk)
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
            target_audit(visitor, link.target, audit_actions.SHARE_LINK_ACCESS, link.pk)
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
