"""A run against its baseline: per metric, both values, the change, which way is
better, and whether a gate (``--fail-on``) is violated.

One comparison for everything that shows a run next to its baseline: the compare
API (``GET /runs/{id}/compare``), the CI report, and Slack and Notion messages.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from apps.core.errors import Invalid
from apps.core.floats import float_out
from apps.projects.comparison import baseline_parse
from apps.projects.models import Project
from apps.runs.baseline import baseline_for, baseline_label
from apps.runs.models import MetricSummary, Run

MAX_GATES = 50
MAX_GATE_LENGTH = 300
MAX_BASELINE_SPEC_LENGTH = 300
# A CI job logs a handful of evaluation metrics; a training run's hundreds are cut.
MAX_COMPARED_METRICS = 200
SYSTEM_PREFIX = "system/"

# Which way is better, guessed from the metric's name when no setting says so.
_LOWER_IS_BETTER = ("loss", "error", "err", "mae", "mse", "rmse", "perplexity", "ppl", "wer", "cer")
_HIGHER_IS_BETTER = (
    "acc",
    "f1",
    "auc",
    "precision",
    "recall",
    "bleu",
    "rouge",
    "map",
    "iou",
    "score",
)

_GATE_RE = re.compile(
    r"^\s*(?P<key>[^<>=]*?)\s*(?P<op><=|>=|<|>)\s*"
    r"(?P<amount>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<percent>%)?\s*$"
)
_OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
GATE_HELP = (
    "KEY OP CHANGE, e.g. 'eval/acc<-0.01' (fail when acc dropped by more than 0.01) "
    "or 'loss>+5%' (fail when loss rose by more than 5%); OP is <, <=, > or >="
)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


@dataclass(frozen=True)
class MetricLine:
    """One metric of a run next to its baseline's value."""

    key: str
    value: float | None
    baseline: float | None = None
    # "min" or "max" when Kiroku knows which way is better for this metric.
    goal: str | None = None

    @property
    def delta(self) -> float | None:
        if not _finite(self.value) or not _finite(self.baseline):
            return None
        return self.value - self.baseline  # type: ignore[operator]

    @property
    def percent(self) -> float | None:
        delta = self.delta
        if delta is None or self.baseline == 0:
            return None
        return delta / abs(self.baseline) * 100  # type: ignore[arg-type]

    @property
    def better(self) -> bool | None:
        """True when the change is an improvement, False when a regression, None when
        unknown (no baseline, no goal) or unchanged."""
        delta = self.delta
        if delta is None or delta == 0 or self.goal is None:
            return None
        return (delta > 0) == (self.goal == "max")


def metric_goal(key: str, known: dict[str, str]) -> str | None:
    """ "min" or "max" for ``key``: a setting's word first, else a guess from the name
    (loss, error… lower; acc, f1, auc… higher); None when neither says."""
    if key in known:
        return known[key]
    lowered = key.lower().replace("/", "_").replace("-", "_").replace(".", "_")
    words = lowered.split("_")
    if any(word in _LOWER_IS_BETTER for word in words) or "loss" in lowered:
        return "min"
    if any(word in _HIGHER_IS_BETTER for word in words) or "accuracy" in lowered:
        return "max"
    return None


def project_goals(project: Project) -> dict[str, str]:
    """The goals the project's settings state (its best-run baseline's metric)."""
    if project.baseline.get("mode") == "best":
        return {project.baseline["metric"]: project.baseline["goal"]}
    return {}


# -- gates --------------------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    """``metric op amount[%]``: violated when the change against the baseline (or its
    percentage) satisfies ``op amount``."""

    metric: str
    op: str
    amount: float
    percent: bool

    @property
    def expression(self) -> str:
        amount = f"{self.amount:+g}"
        return f"{self.metric}{self.op}{amount}{'%' if self.percent else ''}"

    def check(self, line: MetricLine | None) -> tuple[bool, str]:
        """(violated, why) for the metric's comparison line."""
        bound = f"{self.op} {self.amount:+g}{'%' if self.percent else ''}"
        if line is None or line.value is None:
            return True, f"{self.metric} was not logged by this run"
        if line.baseline is None:
            return False, f"{self.metric}: no baseline value to compare with"
        if not _finite(line.value) and _finite(line.baseline):
            return True, f"{self.metric} is {float_out(line.value)} (baseline {line.baseline:g})"
        change = line.percent if self.percent else line.delta
        if change is None:
            why = "the baseline is 0, so a percentage cannot be computed"
            if not _finite(line.baseline):
                why = f"the baseline value is {float_out(line.baseline)}"
            return False, f"{self.metric}: not evaluated ({why})"
        shown = f"{change:+.4g}{'%' if self.percent else ''}"
        if _OPERATORS[self.op](change, self.amount):
            return True, f"{self.metric} changed by {shown}, beyond the gate {bound}"
        return False, f"{self.metric} changed by {shown}, within the gate {bound}"


def gate_parse(text: object, *, field: str = "fail_on") -> Gate:
    """Parse one ``--fail-on`` expression; raises Invalid naming the field and the
    expected form."""
    if not isinstance(text, str) or not text.strip():
        raise Invalid(f"{field} must be a non-empty string: {GATE_HELP}", field=field)
    if len(text) > MAX_GATE_LENGTH:
        raise Invalid(f"{field} is longer than {MAX_GATE_LENGTH} characters", field=field)
    match = _GATE_RE.match(text)
    if match is None or not match["key"]:
        raise Invalid(f"{field} {text!r} is not a gate: {GATE_HELP}", field=field)
    amount = float(match["amount"])
    if not math.isfinite(amount):
        raise Invalid(f"{field} {text!r}: the change must be a finite number", field=field)
    return Gate(match["key"], match["op"], amount, bool(match["percent"]))


def gates_parse(values: object, *, field: str = "fail_on") -> list[Gate]:
    if values is None:
        return []
    if not isinstance(values, list):
        raise Invalid(f"{field} must be a list of gate expressions", field=field)
    if len(values) > MAX_GATES:
        raise Invalid(f"{field} takes at most {MAX_GATES} gates", field=field)
    return [gate_parse(value, field=f"{field}[{i}]") for i, value in enumerate(values)]


# -- baseline specs ------------------------------------------------------------------


def baseline_spec_parse(text: object, *, field: str = "baseline") -> dict | None:
    """``branch:NAME``, ``run:ID``, ``best:METRIC:max|min`` as a baseline setting
    (the project setting's shape); None for ``""``/``project`` (use the project's)."""
    if text is None or text == "" or text == "project":
        return None
    if not isinstance(text, str) or len(text) > MAX_BASELINE_SPEC_LENGTH:
        raise Invalid(
            f"{field} must be a string of at most {MAX_BASELINE_SPEC_LENGTH} characters",
            field=field,
        )
    kind, _, rest = text.partition(":")
    if kind == "branch":
        setting: dict = {"mode": "branch", "branch": rest}
    elif kind == "run":
        setting = {"mode": "pinned", "run": rest}
    elif kind == "best":
        metric, _, goal = rest.rpartition(":")
        setting = {"mode": "best", "metric": metric, "goal": goal}
    else:
        raise Invalid(
            f"{field} {text!r} must be branch:NAME, run:ID, best:METRIC:max or best:METRIC:min",
            field=field,
        )
    return baseline_parse(setting, field=field)


def baseline_spec_text(setting: dict) -> str:
    mode = setting.get("mode")
    if mode == "branch":
        return f"branch:{setting['branch']}"
    if mode == "pinned":
        return f"run:{setting['run']}"
    if mode == "best":
        return f"best:{setting['metric']}:{setting['goal']}"
    return ""


# -- the comparison ------------------------------------------------------------------


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    violated: bool
    reason: str


@dataclass(frozen=True)
class Comparison:
    run: Run
    baseline: Run | None
    setting: dict  # the baseline setting used ({} for none)
    lines: tuple[MetricLine, ...]
    gates: tuple[GateResult, ...]
    truncated: bool

    @property
    def regressed(self) -> bool:
        return any(result.violated for result in self.gates)

    def violated_keys(self) -> set[str]:
        return {result.gate.metric for result in self.gates if result.violated}


def last_values(run: Run, keys: list[str] | None = None) -> dict[str, float]:
    """The last value of each of the run's metrics (of ``keys``, when given); a key
    the run never logged is absent."""
    rows = MetricSummary.objects.filter(run=run)
    if keys is not None:
        rows = rows.filter(key__in=keys)
    # A summary's NULL last is a NaN at the highest step.
    return {
        key: math.nan if last is None else last for key, last in rows.values_list("key", "last")
    }


def metric_lines(
    keys: Sequence[str],
    *,
    run: Run,
    baseline: Run | None,
    goals: dict[str, str],
    values: dict[str, float] | None = None,
) -> tuple[MetricLine, ...]:
    """``keys`` of ``run`` next to ``baseline``'s values, in that order; ``values``
    are the run's last values when the caller has read them already."""
    if values is None:
        values = last_values(run, list(keys))
    base_values = last_values(baseline, list(keys)) if baseline is not None else {}
    return tuple(
        MetricLine(
            key=key,
            value=values.get(key),
            baseline=base_values.get(key),
            goal=metric_goal(key, goals),
        )
        for key in keys
    )


def run_compare(*, run: Run, setting: dict | None = None, gates: Sequence[Gate] = ()) -> Comparison:
    """Compare ``run`` with the baseline chosen by ``setting`` (default: the
    project's) over the gated metrics, then its own (system metrics left out; the
    project's primary metrics first, then by key), at most MAX_COMPARED_METRICS."""
    project = run.project
    setting = project.baseline if setting is None else setting
    baseline = baseline_for(run=run, setting=setting) if setting else None
    values = {
        key: value for key, value in last_values(run).items() if not key.startswith(SYSTEM_PREFIX)
    }
    gated = [gate.metric for gate in gates]
    ordered = [k for k in project.primary_metrics if k in values]
    ordered += [k for k in sorted(values) if k not in ordered]
    keys = list(dict.fromkeys(gated + ordered))
    limit = max(MAX_COMPARED_METRICS, len(set(gated)))
    truncated = len(keys) > limit
    keys = keys[:limit]
    known = {**project_goals(project), **_best_goal(setting)}
    lines = metric_lines(keys, run=run, baseline=baseline, goals=known, values=values)
    by_key = {line.key: line for line in lines}
    results = tuple(GateResult(gate, *gate.check(by_key.get(gate.metric))) for gate in gates)
    return Comparison(
        run=run,
        baseline=baseline,
        setting=setting or {},
        lines=lines,
        gates=results,
        truncated=truncated,
    )


def _best_goal(setting: dict | None) -> dict[str, str]:
    if setting and setting.get("mode") == "best":
        return {setting["metric"]: setting["goal"]}
    return {}


def absolute(path: str) -> str:
    return settings.KIROKU_BASE_URL + path


def run_page_url(run: Run) -> str:
    return absolute(
        reverse("portal:run", kwargs={"slug": run.project.slug, "run_id": run.public_id})
    )


def compare_path(slug: str, *run_ids: str) -> str:
    """The portal's compare page for these runs of project ``slug`` (a path)."""
    query = urlencode([("runs", run_id) for run_id in run_ids])
    return reverse("portal:compare", kwargs={"slug": slug}) + "?" + query


def compare_page_url(run: Run, baseline: Run) -> str:
    return absolute(compare_path(run.project.slug, baseline.public_id, run.public_id))


def comparison_out(comparison: Comparison) -> dict:
    """The comparison as JSON (the compare API's answer, stored with a CI report)."""
    run, baseline = comparison.run, comparison.baseline
    violated = comparison.violated_keys()
    return {
        "run": {"id": run.public_id, "name": run.name, "url": run_page_url(run)},
        "baseline": None
        if baseline is None
        else {
            "id": baseline.public_id,
            "name": baseline.name,
            "url": run_page_url(baseline),
            "branch": baseline.git_branch,
            "commit": baseline.git_commit,
        },
        "baseline_spec": baseline_spec_text(comparison.setting),
        "baseline_label": baseline_label(comparison.setting) if baseline is not None else "",
        "compare_url": compare_page_url(run, baseline) if baseline is not None else "",
        "metrics": [
            {
                "key": line.key,
                "value": float_out(line.value),
                "baseline": float_out(line.baseline),
                "delta": float_out(line.delta),
                "percent": float_out(line.percent),
                "goal": line.goal,
                "better": line.better,
                "violated": line.key in violated,
            }
            for line in comparison.lines
        ],
        "metrics_truncated": comparison.truncated,
        "gates": [
            {
                "expression": result.gate.expression,
                "metric": result.gate.metric,
                "violated": result.violated,
                "reason": result.reason,
            }
            for result in comparison.gates
        ],
        "regressed": comparison.regressed,
    }


# What comparison_out returns, for the OpenAPI schema's examples.
_RUN = "51a75b8a97cc49d598c21cf641c64c34"
_BASE = "313f5b91f4f852a55df3ba46d34a292b"
COMPARISON_EXAMPLE = {
    "run": {
        "id": _RUN,
        "name": "eval #7",
        "url": f"http://127.0.0.1:8000/projects/vision/runs/{_RUN}",
    },
    "baseline": {
        "id": _BASE,
        "name": "eval main",
        "url": f"http://127.0.0.1:8000/projects/vision/runs/{_BASE}",
        "branch": "main",
        "commit": "0123456789abcdef0123456789abcdef01234567",
    },
    "baseline_spec": "branch:main",
    "baseline_label": "latest finished run on main",
    "compare_url": f"http://127.0.0.1:8000/projects/vision/compare?runs={_BASE}&runs={_RUN}",
    "metrics": [
        {
            "key": "eval/acc",
            "value": 0.9,
            "baseline": 0.92,
            "delta": -0.02,
            "percent": -2.1739,
            "goal": "max",
            "better": False,
            "violated": True,
        }
    ],
    "metrics_truncated": False,
    "gates": [
        {
            "expression": "eval/acc<-0.01",
            "metric": "eval/acc",
            "violated": True,
            "reason": "eval/acc changed by -0.02, beyond the gate < -0.01",
        }
    ],
    "regressed": True,
}
