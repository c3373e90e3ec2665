"""A run against its baseline: per metric, both values, the change, which way is
better, and whether a gate (``--fail-on``) is violated.

One comparison for everything that shows a run next to its baseline: the compare
API (``GET /runs/{id}/compare``), the CI report, and Slack and Notion messages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, TypedDict

from apps.core.floats import float_out
from apps.core.schema import WireFloat
from apps.projects.comparison import Baseline, project_baseline
from apps.projects.models import Project
from apps.runs.baseline import baseline_resolve, baseline_spec_text
from apps.runs.gates import Gate, GateResult
from apps.runs.links import compare_url, run_url
from apps.runs.models import MetricSummary, Run

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
    return _goals(project_baseline(project))


def _goals(setting: Baseline | None) -> dict[str, str]:
    return setting.goals if setting is not None else {}


@dataclass(frozen=True)
class Comparison:
    run: Run
    baseline: Run | None
    setting: Baseline | None  # the baseline setting used (None for none)
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


def run_compare(
    *, run: Run, setting: Baseline | None = None, gates: Sequence[Gate] = ()
) -> Comparison:
    """Compare ``run`` with the baseline chosen by ``setting`` (default: the
    project's) over the gated metrics, then its own (system metrics left out; the
    project's primary metrics first, then by key), at most MAX_COMPARED_METRICS."""
    project = run.project
    project_setting = project_baseline(project)
    setting = project_setting if setting is None else setting
    baseline = baseline_resolve(run=run, setting=setting)
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
    known = {**_goals(project_setting), **_goals(setting)}
    lines = metric_lines(keys, run=run, baseline=baseline, goals=known, values=values)
    by_key = {line.key: line for line in lines}
    results = tuple(GateResult(gate, *gate.check(by_key.get(gate.metric))) for gate in gates)
    return Comparison(
        run=run,
        baseline=baseline,
        setting=setting,
        lines=lines,
        gates=results,
        truncated=truncated,
    )


class ComparedRunOut(TypedDict):
    id: str
    name: str
    url: str


class ComparisonBaselineOut(TypedDict):
    id: str
    name: str
    url: str
    branch: str
    commit: str


class ComparedMetricOut(TypedDict):
    key: str
    value: WireFloat | None
    baseline: Annotated[WireFloat | None, "the baseline's value; null when it has none"]
    delta: Annotated[WireFloat | None, "value - baseline, when both are finite"]
    percent: Annotated[WireFloat | None, "delta in percent of the baseline's value"]
    goal: Annotated[str | None, "`min` or `max`: which way is better, when known"]
    better: Annotated[
        bool | None, "true for an improvement, false for a regression, null when unknown"
    ]
    violated: Annotated[bool, "a gate on this metric is violated"]


class GateResultOut(TypedDict):
    expression: Annotated[str, "the gate as given (`eval/acc<-0.01`)"]
    metric: str
    violated: bool
    reason: str


class ComparisonOut(TypedDict):
    """A run next to its baseline: per metric both values and the change, and the
    gates (``fail_on``) with whether each is violated."""

    run: ComparedRunOut
    baseline: Annotated[ComparisonBaselineOut | None, "null when no run qualifies"]
    baseline_spec: Annotated[str, "how the baseline was chosen, as `baseline=` takes it"]
    baseline_label: Annotated[str, "the same in words; empty without a baseline"]
    compare_url: Annotated[str, "the portal's compare page; empty without a baseline"]
    metrics: list[ComparedMetricOut]
    metrics_truncated: Annotated[bool, f"more than {MAX_COMPARED_METRICS} metrics: cut"]
    gates: list[GateResultOut]
    regressed: Annotated[bool, "a gate is violated"]


def comparison_out(comparison: Comparison) -> ComparisonOut:
    """The comparison as JSON (the compare API's answer, stored with a CI report)."""
    run, baseline, setting = comparison.run, comparison.baseline, comparison.setting
    violated = comparison.violated_keys()
    return {
        "run": {"id": run.public_id, "name": run.name, "url": run_url(run)},
        "baseline": None
        if baseline is None
        else {
            "id": baseline.public_id,
            "name": baseline.name,
            "url": run_url(baseline),
            "branch": baseline.git_branch,
            "commit": baseline.git_commit,
        },
        "baseline_spec": baseline_spec_text(setting),
        "baseline_label": setting.label if baseline is not None and setting is not None else "",
        "compare_url": compare_url(run, baseline) if baseline is not None else "",
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
COMPARISON_EXAMPLE: ComparisonOut = {
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
