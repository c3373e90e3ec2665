"""Writes for destinations (admins): connect a Slack channel or a Notion database,
change it, remove it, and send it a test message.

Credentials are write-only: they are stored encrypted through
``Destination.set_credentials`` and never put in an audit event, an answer or an error.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.principal import Principal
from apps.audit import registry as audit_actions
from apps.audit.services import audit_record
from apps.core.errors import Conflict, Invalid
from apps.notifications.crypto import CredentialsUnreadable
from apps.notifications.models import Destination, DestinationKind
from apps.notifications.transports import notifier_for
from apps.notifications.transports.base import TransportError
from apps.projects.access import require_role
from apps.projects.models import Project, Role

UNSET: Any = object()
NAME_MAX = 100
TOKEN_MAX = 200
SLACK_TOKEN_PREFIXES = ("xoxb-", "xoxp-")
# Public channels start with C, private ones (older workspaces) with G.
SLACK_CHANNEL_RE = re.compile(r"^[CG][A-Z0-9]{6,20}$")
NOTION_ID_RE = re.compile(r"^[0-9a-fA-F]{32}$|^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
# The key of the config that names the target, per kind.
TARGET_KEY = {DestinationKind.SLACK: "channel", DestinationKind.NOTION: "database_id"}


@dataclass(frozen=True)
class TestOutcome:
    """What a test message did: ``code`` is "" on success, else a short error code
    (Slack's or Notion's, ``timeout``, ``credentials_unreadable``), never a remote body."""

    __test__ = False  # not a pytest class

    ok: bool
    code: str = ""


def _name_clean(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise Invalid("name must be non-empty text", field="name")
    name = name.strip()
    if len(name) > NAME_MAX:
        raise Invalid(f"name must be at most {NAME_MAX} characters (got {len(name)})", field="name")
    return name


def _kind_clean(kind: object) -> DestinationKind:
    if kind not in DestinationKind.values:
        raise Invalid("kind must be 'slack' or 'notion'", field="kind")
    return DestinationKind(kind)


def _token_clean(kind: DestinationKind, token: object) -> str:
    field = "config.token"
    if not isinstance(token, str) or not token.strip():
        raise Invalid("config.token must be non-empty text", field=field)
    token = token.strip()
    if len(token) > TOKEN_MAX:
        raise Invalid(f"config.token must be at most {TOKEN_MAX} characters", field=field)
    # It goes into an Authorization header as it is.
    if not token.isascii() or not token.isprintable() or " " in token:
        raise Invalid("config.token must be printable ASCII without spaces", field=field)
    if kind == DestinationKind.SLACK and not token.startswith(SLACK_TOKEN_PREFIXES):
        raise Invalid(
            "config.token must be a Slack bot or user token (starting with xoxb- or xoxp-)",
            field=field,
        )
    return token


def _target_clean(kind: DestinationKind, value: object) -> str:
    key = TARGET_KEY[kind]
    field = f"config.{key}"
    text = value.strip() if isinstance(value, str) else ""
    if kind == DestinationKind.SLACK:
        if not SLACK_CHANNEL_RE.fullmatch(text):
            raise Invalid(
                f"{field} must be a Slack channel id such as C0123ABCD (the channel's "
                "details show it), not its name",
                field=field,
            )
        return text
    if not NOTION_ID_RE.fullmatch(text):
        raise Invalid(
            f"{field} must be a Notion database id: 32 hex digits, with or without dashes",
            field=field,
        )
    return str(uuid.UUID(text))


def _config_parse(
    kind: DestinationKind, config: object, *, partial: bool
) -> tuple[str | None, str | None]:
    """(token, target) from ``config``; None for what a partial change leaves out."""
    key = TARGET_KEY[kind]
    if not isinstance(config, dict):
        raise Invalid(f"config must be an object with token and {key}", field="config")
    unknown = sorted(set(config) - {"token", key})
    if unknown:
        raise Invalid(
            f"config of a {kind.label} destination takes only token and {key} (got {unknown[0]!r})",
            field=f"config.{unknown[0]}",
        )
    token = target = None
    if "token" in config or not partial:
        token = _token_clean(kind, config.get("token"))
    if key in config or not partial:
        target = _target_clean(kind, config.get(key))
    return token, target


def _audit(principal: Principal, destination: Destination, action, **metadata: Any) -> None:
    audit_record(
        principal=principal,
        action=action,
        project=destination.project,
        target_type="destination",
        target_id=destination.pk,
        target_label=destination.name,
        metadata={"kind": destination.kind, **metadata},
    )


def _name_taken(name: str) -> Conflict:
    return Conflict(
        f"a destination named '{name}' already exists in this project; choose another name",
        field="name",
    )


def destination_create(
    *, principal: Principal, project: Project, kind: object, name: object, config: object
) -> Destination:
    """Connect a Slack channel (config ``{"token", "channel"}``) or a Notion database
    (config ``{"token", "database_id"}``) to ``project`` (admins). Names are unique in
    a project (Conflict naming ``name``); bad input is Invalid naming the field."""
    require_role(principal, project, Role.ADMIN)
    kind = _kind_clean(kind)
    name = _name_clean(name)
    token, target = _config_parse(kind, config, partial=False)
    destination = Destination(
        project=project, kind=kind, name=name, target=target, created_by=principal.person
    )
    destination.set_credentials({"token": token})
    try:
        with transaction.atomic():
            destination.save()
            _audit(principal, destination, audit_actions.DESTINATION_CREATE, target=target)
    except IntegrityError:
        raise _name_taken(name) from None
    return destination


def destination_update(
    *,
    principal: Principal,
    destination: Destination,
    name: object = UNSET,
    config: object = UNSET,
) -> Destination:
    """Rename a destination or change its config in part (admins): a new token
    replaces the old one; a new channel or database id replaces the target. A change
    of credentials or target clears the broken state (the admin fixed it) and, for a
    new target, what was learned about the old one."""
    require_role(principal, destination.project, Role.ADMIN, what="destination")
    kind = DestinationKind(destination.kind)
    changes: dict[str, Any] = {}
    changed: list[str] = []
    if name is not UNSET:
        name = _name_clean(name)
        if name != destination.name:
            changes["name"] = name
    token = target = None
    if config is not UNSET:
        token, target = _config_parse(kind, config, partial=True)
        if target is not None and target != destination.target:
            changes["target"] = target
            changes["remote"] = {}
    if token is not None:
        destination.set_credentials({"token": token})
        changes["credentials_encrypted"] = destination.credentials_encrypted
        changes["credentials_hint"] = destination.credentials_hint
        changed.append("token")
    if not changes:
        return destination
    if "target" in changes or token is not None:
        changes["broken_at"] = None
        changes["broken_reason"] = ""
    before = {key: getattr(destination, key) for key in ("name", "target") if key in changes}
    after = {key: changes[key] for key in before}
    was_broken = destination.is_broken
    for key, value in changes.items():
        setattr(destination, key, value)
    destination.updated_at = timezone.now()
    try:
        with transaction.atomic():
            destination.save(update_fields=[*changes, "updated_at"])
            _audit(
                principal,
                destination,
                audit_actions.DESTINATION_UPDATE,
                before=before,
                after=after,
                changed=sorted([*before, *changed]),
                repaired=was_broken and not destination.is_broken,
            )
    except IntegrityError:
        raise _name_taken(changes["name"]) from None
    return destination


def destination_delete(*, principal: Principal, destination: Destination) -> None:
    """Remove a destination (admins) with its rules and delivery log."""
    require_role(principal, destination.project, Role.ADMIN, what="destination")
    with transaction.atomic():
        _audit(
            principal,
            destination,
            audit_actions.DESTINATION_DELETE,
            target=destination.target,
            rules=destination.rules.count(),
        )
        destination.delete()


def destination_test(*, principal: Principal, destination: Destination) -> TestOutcome:
    """Send a test message to ``destination`` (admins) and record the attempt in the
    audit log. Success clears the broken state, unless the destination changed
    meanwhile. Never raises for what the remote said: a failure is an outcome."""
    require_role(principal, destination.project, Role.ADMIN, what="destination")
    try:
        # The remote call happens outside any transaction.
        notifier_for(destination).test()
    except TransportError as exc:
        outcome = TestOutcome(ok=False, code=exc.code)
    except CredentialsUnreadable:
        outcome = TestOutcome(ok=False, code="credentials_unreadable")
    else:
        outcome = TestOutcome(ok=True)
    with transaction.atomic():
        if outcome.ok and destination.is_broken:
            repaired = Destination.objects.filter(
                pk=destination.pk,
                target=destination.target,
                credentials_encrypted=destination.credentials_encrypted,
            ).update(broken_at=None, broken_reason="")
            if repaired:
                destination.broken_at, destination.broken_reason = None, ""
        _audit(
            principal, destination, audit_actions.DESTINATION_TEST, ok=outcome.ok, code=outcome.code
        )
    return outcome
