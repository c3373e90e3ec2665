"""Checking what admins send about destinations and rules. The API's views and the
portal's integrations page call the same functions, so both enforce one set of rules;
each returns a frozen dataclass of clean values or raises Invalid naming the field
(``config.token``, ``condition.metric``, ``filters.tags``…) and the limit it broke.
What needs the database (a taken name, a destination of another project) is the
services' to check.

Credentials never appear in a message: a refused token is described, not quoted.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from apps.core.errors import Invalid
from apps.core.floats import is_finite
from apps.core.validation import json_object
from apps.notifications import catalog
from apps.notifications.models import DestinationKind
from apps.projects.comparison import GOALS

# -- destinations -------------------------------------------------------------------------

NAME_MAX = 100
TOKEN_MAX = 200
SLACK_TOKEN_PREFIXES = ("xoxb-", "xoxp-")
# Public channels start with C, private ones (older workspaces) with G.
SLACK_CHANNEL_RE = re.compile(r"^[CG][A-Z0-9]{6,20}$")
NOTION_ID_RE = re.compile(r"^[0-9a-fA-F]{32}$|^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
# The key of the config that names the target, per kind.
TARGET_KEY = {DestinationKind.SLACK: "channel", DestinationKind.NOTION: "database_id"}


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


def _config(kind: DestinationKind, config: object) -> dict[str, Any]:
    key = TARGET_KEY[kind]
    if not isinstance(config, dict):
        raise Invalid(f"config must be an object with token and {key}", field="config")
    unknown = sorted(set(config) - {"token", key})
    if unknown:
        raise Invalid(
            f"config of a {kind.label} destination takes only token and {key} (got {unknown[0]!r})",
            field=f"config.{unknown[0]}",
        )
    return config


@dataclass(frozen=True)
class DestinationCreateIn:
    kind: DestinationKind
    name: str
    token: str
    target: str  # the Slack channel's id, or the Notion database's as a dashed UUID


def destination_create_clean(data: Any) -> DestinationCreateIn:
    """``kind`` (slack or notion), ``name`` (1 to 100 characters) and ``config``: a
    Slack bot token and a channel id (``{"token", "channel"}``), or a Notion
    integration's token and a database id (``{"token", "database_id"}``)."""
    body = json_object(data, {"kind", "name", "config"})
    kind = _kind_clean(body.get("kind"))
    name = _name_clean(body.get("name"))
    config = _config(kind, body.get("config"))
    return DestinationCreateIn(
        kind=kind,
        name=name,
        token=_token_clean(kind, config.get("token")),
        target=_target_clean(kind, config.get(TARGET_KEY[kind])),
    )


@dataclass(frozen=True)
class DestinationUpdateIn:
    """A change of a destination; None leaves that part as it is."""

    name: str | None = None
    token: str | None = None
    target: str | None = None


def destination_update_clean(data: Any, *, kind: str) -> DestinationUpdateIn:
    """Any of ``name`` and ``config``, as for a new destination of ``kind`` (the
    destination's own), where ``config`` may hold only the keys that change."""
    body = json_object(data, {"name", "config"})
    name = _name_clean(body["name"]) if "name" in body else None
    destination_kind = DestinationKind(kind)
    token = target = None
    if "config" in body:
        config = _config(destination_kind, body["config"])
        if "token" in config:
            token = _token_clean(destination_kind, config["token"])
        key = TARGET_KEY[destination_kind]
        if key in config:
            target = _target_clean(destination_kind, config[key])
    return DestinationUpdateIn(name=name, token=token, target=target)


# -- rules --------------------------------------------------------------------------------

KEY_MAX = 250
KEY_METRICS_MAX = 10
TAGS_MAX = 20
USERNAME_MAX = 150
COOLDOWN_MAX = 7 * 24 * 3600
FILTER_KEYS = ("tags", "name", "author", "branch")
RULE_FIELDS = {"event", "destination", "condition", "filters", "cooldown", "enabled"}


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


def _destination_id(value: object) -> int:
    """A destination's id, given as a number or as the digits of one (what a form
    sends). Whether the project has it is the service's to check, with the same
    message."""
    # Up to 18 digits: any such number fits the id column (a 64-bit integer).
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        value = int(value)
    if type(value) is not int:
        raise Invalid(
            "destination must be the id of a destination of this project", field="destination"
        )
    return value


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
        if condition["goal"] not in GOALS:
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


@dataclass(frozen=True)
class RuleCreateIn:
    event: str
    destination: int  # the id of a destination, which must be the project's
    condition: dict[str, Any]
    filters: dict[str, Any]
    cooldown: int = 0
    enabled: bool = True


def rule_create_clean(data: Any) -> RuleCreateIn:
    """``event`` (one of catalog.RULE_EVENTS), ``destination`` (a destination's id),
    ``condition`` (what must hold: ``condition_clean``), ``filters`` (which runs:
    ``filters_clean``), ``cooldown`` (seconds between two messages, 0 to 7 days) and
    ``enabled``."""
    body = json_object(data, RULE_FIELDS)
    event = _event_clean(body.get("event"))
    return RuleCreateIn(
        event=event,
        destination=_destination_id(body.get("destination")),
        condition=condition_clean(event, body.get("condition")),
        filters=filters_clean(body.get("filters")),
        cooldown=_cooldown_clean(body.get("cooldown", 0)),
        enabled=_enabled_clean(body.get("enabled", True)),
    )


@dataclass(frozen=True)
class RuleUpdateIn:
    """A change of a rule; None leaves that part as it is."""

    event: str | None = None
    destination: int | None = None
    condition: dict[str, Any] | None = None
    filters: dict[str, Any] | None = None
    cooldown: int | None = None
    enabled: bool | None = None


def rule_update_clean(data: Any, *, event: str, condition: dict[str, Any]) -> RuleUpdateIn:
    """Any of a rule's fields, as for a new rule. ``event`` and ``condition`` are the
    rule's own: a new event re-checks the condition kept, so a condition that does not
    fit it is refused (naming ``condition.…``)."""
    body = json_object(data, RULE_FIELDS)
    new_event = _event_clean(body["event"]) if "event" in body else None
    new_condition = None
    if new_event is not None or "condition" in body:
        new_condition = condition_clean(new_event or event, body.get("condition", condition))
    return RuleUpdateIn(
        event=new_event,
        destination=_destination_id(body["destination"]) if "destination" in body else None,
        condition=new_condition,
        filters=filters_clean(body["filters"]) if "filters" in body else None,
        cooldown=_cooldown_clean(body["cooldown"]) if "cooldown" in body else None,
        enabled=_enabled_clean(body["enabled"]) if "enabled" in body else None,
    )
