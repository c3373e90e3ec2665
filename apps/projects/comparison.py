"""A project's comparison settings: which runs new ones are compared with (the
baseline) and which metrics matter most (the primary metrics). Notifications and
the CI step read them; admins set them with the project's other settings.

The baseline setting is stored as JSON on ``Project.baseline``; ``Baseline`` is its
typed form, and ``baseline_parse`` the one way from that JSON (or an admin's input)
to it. Which run a setting picks is ``apps.runs.baseline.baseline_resolve``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from apps.core.errors import Invalid

if TYPE_CHECKING:
    from apps.projects.models import Project

PRIMARY_METRICS_MAX = 10
KEY_MAX = 250
PINNED_RUN_MAX = 32
BASELINE_MODES = ("best", "branch", "pinned")
# Which way is better for a metric: its lowest value or its highest.
GOALS = ("min", "max")

BaselineMode = Literal["best", "branch", "pinned"]


@dataclass(frozen=True)
class Baseline:
    """How the run a new run is compared with is chosen. ``mode`` says which fields
    apply; the others are "":

    - ``best``: the finished run with the best last value of ``metric`` (``goal`` is
      "min" or "max");
    - ``branch``: the latest finished run on the git branch ``branch``;
    - ``pinned``: the run whose public id is ``run``.

    No baseline at all is ``None``, never a ``Baseline``."""

    mode: BaselineMode
    metric: str = ""
    goal: str = ""
    branch: str = ""
    run: str = ""

    @property
    def goals(self) -> dict[str, str]:
        """What the setting says about which way is better: ``{metric: goal}`` for a
        best-run baseline, else ``{}``."""
        return {self.metric: self.goal} if self.mode == "best" else {}

    @property
    def label(self) -> str:
        """How the baseline run is chosen, in words ("latest finished run on main")."""
        if self.mode == "best":
            return f"best run by {self.metric} ({self.goal})"
        if self.mode == "branch":
            return f"latest finished run on {self.branch}"
        return "pinned baseline run"


def baseline_parse(value: object, *, field: str = "baseline") -> Baseline | None:
    """Validate a baseline setting (the stored JSON, or an admin's input in the same
    shape); returns it typed, None for no baseline.

    Accepted: ``{}``/``null`` (no baseline), ``{"mode": "best", "metric": key,
    "goal": "min"|"max"}`` (goal defaults to "max"), ``{"mode": "branch", "branch":
    name}``, ``{"mode": "pinned", "run": run id}``. Raises ``Invalid`` naming the field.
    """
    if value is None or value == {}:
        return None
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
        return Baseline(mode="best", metric=metric, goal=goal)
    if mode == "branch":
        return Baseline(mode="branch", branch=_text(value.get("branch"), f"{field}.branch"))
    return Baseline(
        mode="pinned", run=_text(value.get("run"), f"{field}.run", limit=PINNED_RUN_MAX)
    )


def baseline_json(baseline: Baseline | None) -> dict[str, str]:
    """The setting as ``Project.baseline`` stores it ({} for none); ``baseline_parse``
    reads it back unchanged."""
    if baseline is None:
        return {}
    if baseline.mode == "best":
        return {"mode": "best", "metric": baseline.metric, "goal": baseline.goal}
    if baseline.mode == "branch":
        return {"mode": "branch", "branch": baseline.branch}
    return {"mode": "pinned", "run": baseline.run}


def project_baseline(project: Project) -> Baseline | None:
    """The project's baseline setting; None when it has none."""
    return baseline_parse(project.baseline)


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
