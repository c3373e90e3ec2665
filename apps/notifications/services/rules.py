"""Writes for rules (admins): which event sends a message to which destination, on
what condition, for which runs (filters), and how often at most (cooldown).

Each input is checked here and a refusal names its field (``condition.metric``,
``filters.tags``…) and the limit it broke.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.accounts.principal import Principal
from apps.audit import registry as audit_actions
from apps.audit.services import audit_record
from apps.core.errors import Invalid
from apps.core.floats import is_finite
from apps.notifications import catalog
from apps.notifications.models import Destination, Rule
from apps.projects.access import require_role
from apps.projects.models import Project, Role

UNSET: Any = object()
KEY_MAX = 250
KEY_METRICS_MAX = 10
TAGS_MAX = 20
USERNAME_MAX = 150
COOLDOWN_MAX = 7 * 24 * 3600
FILTER_KEYS = ("tags", "name", "author", "branch")


def _text(value: object, field: str, *, limit: int = KEY_MAX) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise Invalid(
            f"{field} must be a non-empty string of at most {limit} characters", field=field
        )
    return value.strip()


def _event_clean(event: object) -> str:
    if event not in catalog.RULE_EVENTS:
        raise Invalid(f"event must be one of: {', '.join(catalog.RULE_EVENTS)}", field="event")
    return str(event)


def _key_metrics(value: object) -> list[str]:
    field = "condition.metrics"
    if not isinstance(value, list):
        raise Invalid(f"{field} must be a list of metric keys", field=field)
    if len(value) > KEY_METRICS_MAX:
        raise Invalid(f"{field} takes at most {KEY_METRICS_MAX} metric keys", field=field)
    return list(dict.fromkeys(_text(item, field) for item in value))


def condition_clean(event: str, condition: object) -> dict[str, Any]:
    """The normalised condition of a rule on ``event``, or Invalid naming the field.

    ``metric.threshold``: ``{"metric", "op", "value"}``; ``run.new_best``:
    ``{"metric", "goal"}``; every event may add ``"metrics"``, the key metrics its
    message shows (at most 10).
    """
    if condition is None:
        condition = {}
    if not isinstance(condition, dict):
        raise Invalid("condition must be an object", field="condition")
    required = {
        catalog.METRIC_THRESHOLD: ("metric", "op", "value"),
        catalog.RUN_NEW_BEST: ("metric", "goal"),
    }.get(event, ())
    allowed = {*required, "metrics"}
    unknown = sorted(set(condition) - allowed)
    if unknown:
        raise Invalid(
            f"a {event} rule's condition takes only: {', '.join(sorted(allowed))}",
            field=f"condition.{unknown[0]}",
        )
    missing = [key for key in required if key not in condition]
    if missing:
        raise Invalid(
            f"a {event} rule's condition needs: {', '.join(required)}",
            field=f"condition.{missing[0]}",
        )
    clean: dict[str, Any] = {}
    if "metric" in condition:
        clean["metric"] = _text(condition["metric"], "condition.metric")
    if "op" in condition:
        if condition["op"] not in catalog.THRESHOLD_OPERATORS:
            raise Invalid(
                f"condition.op must be one of: {' '.join(catalog.THRESHOLD_OPERATORS)}",
                field="condition.op",
            )
        clean["op"] = condition["op"]
    if "value" in condition:
        value = condition["value"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not is_finite(value):
            raise Invalid("condition.value must be a finite number", field="condition.value")
        clean["value"] = value
    if "goal" in condition:
        if condition["goal"] not in catalog.GOALS:
            raise Invalid("condition.goal must be 'min' or 'max'", field="condition.goal")
        clean["goal"] = condition["goal"]
    if "metrics" in condition:
        metrics = _key_metrics(condition["metrics"])
        if metrics:
            clean["metrics"] = metrics
    return clean


def filters_clean(filters: object) -> dict[str, Any]:
    """Which runs a rule is for: ``tags`` (every pair must match, at most 20), ``name``
    and ``branch`` (glob patterns), ``author`` (a username). Empty values are dropped."""
    if filters is None:
        return {}
    if not isinstance(filters, dict):
        raise Invalid("filters must be an object", field="filters")
    unknown = sorted(set(filters) - set(FILTER_KEYS))
    if unknown:
        raise Invalid(f"filters take only: {', '.join(FILTER_KEYS)}", field=f"filters.{unknown[0]}")
    clean: dict[str, Any] = {}
    tags = filters.get("tags")
    if tags not in (None, {}):
        if not isinstance(tags, dict):
            raise Invalid("filters.tags must be an object of tag: value", field="filters.tags")
        if len(tags) > TAGS_MAX:
            raise Invalid(
                f"filters.tags takes at most {TAGS_MAX} pairs (got {len(tags)})",
                field="filters.tags",
            )
        for key, value in tags.items():
            _text(key, "filters.tags")
            if not isinstance(value, str) or len(value) > KEY_MAX:
                raise Invalid(
                    f"filters.tags values must be strings of at most {KEY_MAX} characters",
                    field="filters.tags",
                )
        clean["tags"] = {key.strip(): value for key, value in tags.items()}
    for key, limit in (("name", KEY_MAX), ("author", USERNAME_MAX), ("branch", KEY_MAX)):
        value = filters.get(key)
        if value not in (None, ""):
            clean[key] = _text(value, f"filters.{key}", limit=limit)
    return clean


def _cooldown_clean(cooldown: object) -> int:
    if type(cooldown) is not int or not 0 <= cooldown <= COOLDOWN_MAX:
        raise Invalid(
            f"cooldown must be whole seconds from 0 to {COOLDOWN_MAX} (7 days)", field="cooldown"
        )
    return cooldown


def _enabled_clean(enabled: object) -> bool:
    if type(enabled) is not bool:
        raise Invalid("enabled must be true or false", field="enabled")
    return enabled


def _destination_in(project: Project, destination: object) -> Destination:
    """The project's destination by id (or the instance itself when it is the
    project's). Another project's destination is refused like a missing one."""
    pk = destination.pk if isinstance(destination, Destination) else destination
    if isinstance(pk, str) and pk.isascii() and pk.isdigit() and len(pk) <= 18:
        pk = int(pk)
    found = None
    if type(pk) is int:
        found = Destination.objects.filter(pk=pk, project=project).first()
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


def rule_create(
    *,
    principal: Principal,
    project: Project,
    event: object,
    destination: object,
    condition: object = None,
    filters: object = None,
    cooldown: object = 0,
    enabled: object = True,
) -> Rule:
    """Add a rule to ``project`` (admins): on ``event`` (one of catalog.RULE_EVENTS)
    send to ``destination`` (an id of one of the project's destinations) when
    ``condition`` holds for a run matching ``filters``, at most once per ``cooldown``
    seconds. Raises Invalid naming the field."""
    require_role(principal, project, Role.ADMIN)
    event = _event_clean(event)
    rule = Rule(
        project=project,
        event=event,
        destination=_destination_in(project, destination),
        condition=condition_clean(event, condition),
        filters=filters_clean(filters),
        cooldown_seconds=_cooldown_clean(cooldown),
        enabled=_enabled_clean(enabled),
        created_by=principal.person,
    )
    with transaction.atomic():
        rule.save()
        _audit(principal, rule, audit_actions.RULE_CREATE, **rule.admin_settings())
    return rule


def rule_update(
    *,
    principal: Principal,
    rule: Rule,
    event: object = UNSET,
    destination: object = UNSET,
    condition: object = UNSET,
    filters: object = UNSET,
    cooldown: object = UNSET,
    enabled: object = UNSET,
) -> Rule:
    """Change a rule (admins); arguments left out stay as they are. A new event
    re-checks the condition kept, so a condition that does not fit it is refused."""
    project = rule.project
    require_role(principal, project, Role.ADMIN, what="rule")
    before = rule.admin_settings()
    new_event = rule.event if event is UNSET else _event_clean(event)
    values: dict[str, Any] = {
        "event": new_event,
        "condition": condition_clean(
            new_event, rule.condition if condition is UNSET else condition
        ),
    }
    if destination is not UNSET:
        values["destination"] = _destination_in(project, destination)
    if filters is not UNSET:
        values["filters"] = filters_clean(filters)
    if cooldown is not UNSET:
        values["cooldown_seconds"] = _cooldown_clean(cooldown)
    if enabled is not UNSET:
        values["enabled"] = _enabled_clean(enabled)
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
