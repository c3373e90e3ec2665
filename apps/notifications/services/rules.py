"""Writes for rules (admins): which event sends a message to which destination, on
what condition, for which runs (filters), and how often at most (cooldown).

The input is checked beforehand (apps.notifications.validation); what needs the
database, the destination being the project's, is checked here.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.accounts.principal import Principal
from apps.audit import registry as audit_actions
from apps.audit.services import audit_record
from apps.core.errors import Invalid
from apps.notifications.models import Destination, Rule
from apps.notifications.validation import RuleCreateIn, RuleUpdateIn
from apps.projects.access import require_role
from apps.projects.models import Project, Role


def _destination_in(project: Project, destination_id: int) -> Destination:
    """The project's destination with this id. Another project's destination is
    refused like a missing one."""
    found = Destination.objects.filter(pk=destination_id, project=project).first()
    if found is None:
        raise Invalid(
            "destination must be the id of a destination of this project", field="destination"
        )
    found.project = project
    return found


def _label(rule: Rule) -> str:
    return f"{rule.event} → {rule.destination.name}"


def _audit(principal: Principal, rule: Rule, action, **metadata: Any) -> None:
    audit_record(
        principal=principal,
        action=action,
        project=rule.project,
        target_type="rule",
        target_id=rule.pk,
        target_label=_label(rule),
        metadata=metadata,
    )


def rule_create(*, principal: Principal, project: Project, data: RuleCreateIn) -> Rule:
    """Add a rule to ``project`` (admins): on ``data.event`` send to the destination
    ``data.destination`` when the condition holds for a run matching the filters, at
    most once per cooldown. Invalid naming ``destination`` when the project has no
    destination with that id."""
    require_role(principal, project, Role.ADMIN)
    rule = Rule(
        project=project,
        event=data.event,
        destination=_destination_in(project, data.destination),
        condition=data.condition,
        filters=data.filters,
        cooldown_seconds=data.cooldown,
        enabled=data.enabled,
        created_by=principal.person,
    )
    with transaction.atomic():
        rule.save()
        _audit(principal, rule, audit_actions.RULE_CREATE, **rule.admin_settings())
    return rule


def rule_update(*, principal: Principal, rule: Rule, data: RuleUpdateIn) -> Rule:
    """Change a rule (admins); what ``data`` leaves unset stays as it is. Invalid
    naming ``destination`` when the project has no destination with the new id."""
    project = rule.project
    require_role(principal, project, Role.ADMIN, what="rule")
    before = rule.admin_settings()
    values: dict[str, Any] = {}
    if data.event is not None:
        values["event"] = data.event
    if data.condition is not None:
        values["condition"] = data.condition
    if data.destination is not None:
        values["destination"] = _destination_in(project, data.destination)
    if data.filters is not None:
        values["filters"] = data.filters
    if data.cooldown is not None:
        values["cooldown_seconds"] = data.cooldown
    if data.enabled is not None:
        values["enabled"] = data.enabled
    for key, value in values.items():
        setattr(rule, key, value)
    after = rule.admin_settings()
    changed = {key: value for key, value in after.items() if before[key] != value}
    if not changed:
        return rule
    with transaction.atomic():
        rule.save()
        _audit(
            principal,
            rule,
            audit_actions.RULE_UPDATE,
            before={key: before[key] for key in changed},
            after=changed,
        )
    return rule


def rule_delete(*, principal: Principal, rule: Rule) -> None:
    """Remove a rule (admins). Its deliveries stay in the log, without their rule."""
    require_role(principal, rule.project, Role.ADMIN, what="rule")
    with transaction.atomic():
        _audit(principal, rule, audit_actions.RULE_DELETE, **rule.admin_settings())
        rule.delete()
