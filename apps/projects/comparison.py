"""A project's comparison settings: which runs new ones are compared with (the
baseline) and which metrics matter most (the primary metrics). Notifications and
the CI step read them; admins set them with the project's other settings."""

from __future__ import annotations

from typing import Any

from apps.core.errors import Invalid

PRIMARY_METRICS_MAX = 10
KEY_MAX = 250
BASELINE_MODES = ("best", "branch", "pinned")
GOALS = ("min", "max")


def baseline_parse(value: object, *, field: str = "baseline") -> dict[str, Any]:
    """Validate a baseline setting; returns the normalised dict ({} for none).

    Accepted: ``{}``/``null`` (no baseline), ``{"mode": "best", "metric": key,
    "goal": "min"|"max"}`` (the best finished run by a metric), ``{"mode": "branch",
    "branch": name}`` (the latest finished run on a git branch), ``{"mode": "pinned",
    "run": run id}`` (one chosen run). Raises ``Invalid`` naming the field.
    """
    if value is None or value == {}:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"{field} must be an object with a 'mode' or null", field=field)
    mode = value.get("mode")
    if mode not in BASELINE_MODES:
        raise Invalid(f"{field}.mode must be one of: {', '.join(BASELINE_MODES)}", field=field)
    allowed = {"best": {"mode", "metric", "goal"}, "branch": {"mode", "branch"}}.get(
        mode, {"mode", "run"}
    )
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise Invalid(
            f"{field} with mode '{mode}' does not take: {', '.join(unknown)}", field=field
        )
    if mode == "best":
        metric = _text(value.get("metric"), f"{field}.metric")
        goal = value.get("goal", "max")
        if goal not in GOALS:
            raise Invalid(f"{field}.goal must be 'min' or 'max'", field=field)
        return {"mode": "best", "metric": metric, "goal": goal}
    if mode == "branch":
        return {"mode": "branch", "branch": _text(value.get("branch"), f"{field}.branch")}
    return {"mode": "pinned", "run": _text(value.get("run"), f"{field}.run", limit=32)}


def primary_metrics_parse(value: object, *, field: str = "primary_metrics") -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"{field} must be a list of metric keys", field=field)
    if len(value) > PRIMARY_METRICS_MAX:
        raise Invalid(f"{field} takes at most {PRIMARY_METRICS_MAX} metric keys", field=field)
    keys = [_text(item, field) for item in value]
    return list(dict.fromkeys(keys))


def _text(value: object, field: str, *, limit: int = KEY_MAX) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise Invalid(
            f"{field} must be a non-empty string of at most {limit} characters", field=field
        )
    return value.strip()
