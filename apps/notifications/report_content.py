"""What a notification says, independent of where it goes.

``Report`` is built once per delivery (``apps.notifications.report_builder``) and rendered
by each kind's own block builder; the formatting helpers here keep Slack and Notion
saying the same numbers the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from apps.core.times import human_seconds
from apps.runs.comparison import MetricLine

__all__ = ["MetricLine", "ModelRef", "Report", "RunRef", "format_delta", "format_number"]


@dataclass(frozen=True)
class RunRef:
    public_id: str
    name: str
    url: str


@dataclass(frozen=True)
class ParamChange:
    key: str
    value: str
    baseline: str | None  # None: the baseline did not have this param


@dataclass(frozen=True)
class Mention:
    username: str
    email: str


@dataclass(frozen=True)
class ModelRef:
    """What a model registry event is about. ``name``, ``reason``, ``comment`` and
    ``description`` are user text."""

    name: str
    version: int
    alias: str = ""
    # The version the alias pointed at before the move (or points at now, for a
    # promotion request or decision); None: nowhere.
    replaces: int | None = None
    actor: str = ""  # who created, moved, requested or decided
    reason: str = ""
    decision: str = ""  # approved / rejected
    comment: str = ""  # the deciding admin's
    description: str = ""  # the new version's


@dataclass(frozen=True)
class Report:
    delivery_id: int
    key: str  # the delivery's idempotency key: "Kiroku ID" in Notion, metadata in Slack
    event: str  # the rule's event (apps.notifications.catalog)
    title: str  # one line: "Run finished", "val/loss crossed < 0.3", ...
    project_slug: str
    project_name: str
    project_url: str
    run: RunRef | None
    status: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    author: str = ""
    branch: str = ""
    commit: str = ""  # short
    tags: tuple[tuple[str, str], ...] = ()
    metrics: tuple[MetricLine, ...] = ()
    baseline: RunRef | None = None
    baseline_label: str = ""  # how the baseline was chosen: "best run by val/acc"
    param_changes: tuple[ParamChange, ...] = ()
    params: tuple[tuple[str, str], ...] = ()  # all of the run's params (Notion's table)
    compare_url: str = ""
    # Free text the event brings: a comment's excerpt, a CI summary. User text.
    detail: str = ""
    detail_url: str = ""
    mentions: tuple[Mention, ...] = ()
    created_at: datetime | None = None
    model: ModelRef | None = None  # model registry events only
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return max(0.0, (self.ended_at - self.started_at).total_seconds())


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def format_number(value: float | None) -> str:
    """Up to 6 significant digits; NaN and infinities spelled out; "—" for missing."""
    if value is None:
        return "—"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-4):
        return f"{value:.4e}"
    return f"{value:.6g}"


def format_delta(line: MetricLine) -> str:
    """ "+0.012 (+1.3%) ▲" — difference, percentage, direction marker; "" without a
    baseline value."""
    delta = line.delta
    if delta is None:
        return ""
    if delta == 0:
        return "±0 (0%) ="
    sign = "+" if delta > 0 else "\u2212"  # a real minus sign
    text = f"{sign}{format_number(abs(delta))}"
    percent = line.percent
    if percent is not None:
        text += f" ({sign}{abs(percent):.1f}%)"
    return f"{text} {'▲' if delta > 0 else '▼'}"


def format_verdict(line: MetricLine) -> str:
    """ "better" / "worse" / "" — spelled out for readers who do not see colours."""
    return {True: "better", False: "worse"}.get(line.better, "")  # type: ignore[arg-type]


def format_duration(seconds: float | None) -> str:
    return "" if seconds is None else human_seconds(seconds)
