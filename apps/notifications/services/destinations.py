"""Writes for destinations (admins): connect a Slack channel or a Notion database,
change it, remove it, and send it a test message.

Credentials are write-only: they are stored encrypted through
``Destination.set_credentials`` and never put in an audit event, an answer or an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.principal import Principal
from apps.audit import registry as audit_actions
from apps.audit.services import audit_record
from apps.core.errors import Conflict
from apps.notifications.crypto import CredentialsUnreadable
from apps.notifications.models import Destination
from apps.notifications.transports import notifier_for
from apps.notifications.transports.base import TransportError
from apps.notifications.validation import DestinationCreateIn, DestinationUpdateIn
from apps.projects.access import require_role
from apps.projects.models import Project, Role


@dataclass(frozen=True)
class TestOutcome:
    """What a test message did: ``code`` is "" on success, else a short error code
    (Slack's or Notion's, ``timeout``, ``credentials_unreadable``), never a remote body."""

    __test__ = False  # not a pytest class

    ok: bool
    code: str = ""


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
    *, principal: Principal, project: Project, data: DestinationCreateIn
) -> Destination:
    """Connect a Slack channel or a Notion database to ``project`` (admins). Names are
    unique in a project (Conflict naming ``name``)."""
    require_role(principal, project, Role.ADMIN)
    destination = Destination(
        project=project,
        kind=data.kind,
        name=data.name,
        target=data.target,
        created_by=principal.person,
    )
    destination.set_credentials({"token": data.token})
    try:
        with transaction.atomic():
            destination.save()
            _audit(principal, destination, audit_actions.DESTINATION_CREATE, target=data.target)
    except IntegrityError:
        raise _name_taken(data.name) from None
    return destination


def destination_update(
    *, principal: Principal, destination: Destination, data: DestinationUpdateIn
) -> Destination:
    """Rename a destination or change its config in part (admins): a new token
    replaces the old one; a new channel or database id replaces the target. A change
    of credentials or target clears the broken state (the admin fixed it) and, for a
    new target, what was learned about the old one. Conflict naming ``name`` when
    another destination of the project has the new name."""
    require_role(principal, destination.project, Role.ADMIN, what="destination")
    changes: dict[str, Any] = {}
    changed: list[str] = []
    if data.name is not None and data.name != destination.name:
        changes["name"] = data.name
    if data.target is not None and data.target != destination.target:
        changes["target"] = data.target
        changes["remote"] = {}
    token = data.token
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
