"""What the run page says about a run, shaped for its templates: sizes, durations,
the environment and CI facts the SDK or a client recorded, chart groups.

Pure functions of what was read; nothing here queries the database. Values come
from clients, so every reader tolerates a missing field or an unexpected type.
"""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apps.core.floats import float_out
from apps.portal.formatting import human_seconds, human_size
from apps.runs.validation.records import CI_FIELDS

SYSTEM_PREFIX = "system"
OTHER_PREFIX = "other"


def run_duration(started_at: datetime, ended_at: datetime | None, now: datetime) -> str:
    """How long the run took, or has been going for when it has not ended."""
    end = ended_at or now
    text = human_seconds((end - started_at).total_seconds())
    return text if ended_at else f"{text} so far"


def value_text(value: Any) -> str:
    """A summary value (any JSON) for a table cell."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        out = float_out(value)
        return out if isinstance(out, str) else f"{out:.6g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def metric_text(value: float | None) -> str:
    """A metric summary's value: NULL is a NaN in MetricSummary."""
    if value is None:
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return f"{value:.6g}"


@dataclass
class Gpu:
    name: str
    memory: str = ""
    driver: str = ""


@dataclass
class Environment:
    python: str = ""
    os: str = ""
    cpu_count: str = ""
    memory: str = ""
    hostname: str = ""
    cwd: str = ""
    command: str = ""
    packages: list[str] = field(default_factory=list)
    gpus: list[Gpu] = field(default_factory=list)
    recorded: bool = False


def plain_text(value: Any) -> str:
    """A client's value as text: strings as they are, other JSON as JSON, None as ""."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def environment_facts(environment: Any) -> Environment:
    """The run's ``environment`` (python, packages, os, cpu_count, memory, gpus,
    command, cwd, hostname; each optional) as display text."""
    env = environment if isinstance(environment, dict) else {}
    command = env.get("command")
    if isinstance(command, list):
        command = shlex.join(str(part) for part in command)
    memory = env.get("memory")
    gpus = []
    for gpu in env.get("gpus") or []:
        if isinstance(gpu, dict):
            total = gpu.get("memory_total")
            gpus.append(
                Gpu(
                    name=plain_text(gpu.get("name")) or "GPU",
                    memory=human_size(total) if isinstance(total, int) else "",
                    driver=plain_text(gpu.get("driver")),
                )
            )
        else:
            gpus.append(Gpu(name=plain_text(gpu)))
    packages = env.get("packages")
    return Environment(
        python=plain_text(env.get("python")),
        os=plain_text(env.get("os")),
        cpu_count=plain_text(env.get("cpu_count")),
        memory=human_size(memory) if isinstance(memory, int) else "",
        hostname=plain_text(env.get("hostname")),
        cwd=plain_text(env.get("cwd")),
        command=plain_text(command),
        packages=[plain_text(p) for p in packages] if isinstance(packages, list) else [],
        gpus=gpus,
        recorded=bool(env),
    )


CI_LABELS = {
    "provider": "Provider",
    "repository": "Repository",
    "workflow": "Workflow",
    "workflow_url": "Workflow run",
    "job": "Job",
    "run_id": "Run id",
    "run_attempt": "Attempt",
    "event": "Event",
    "actor": "Actor",
    "commit": "Commit",
    "ref": "Ref",
    "branch": "Branch",
    "pr": "Pull request",
    # Shown as the "Pull request" fact's link (or as that fact when no number came).
    "pr_url": "Pull request",
    "base_ref": "Base ref",
    "head_ref": "Head ref",
}


assert set(CI_LABELS) == set(CI_FIELDS), "CI_LABELS must name every CI field, and only those"


@dataclass
class Fact:
    label: str
    value: str
    url: str = ""  # only ever an http(s) URL


def ci_facts(ci: Any) -> list[Fact]:
    """The CI context, in a stable order. ``pr`` and ``pr_url`` make one "Pull
    request" fact: the number, linking to the pull request. A URL is a link only when
    it is an http or https URL (a client could send ``javascript:``)."""
    if not isinstance(ci, dict):
        return []
    present = {
        name: plain_text(ci.get(name)) for name in CI_LABELS if ci.get(name) not in (None, "")
    }
    pr_url = present.get("pr_url", "")
    facts = []
    for name, text in present.items():
        if name == "pr_url" and "pr" in present:
            continue  # folded into the pr fact
        url = text if name in ("workflow_url", "pr_url") else ""
        if name == "pr":
            url = pr_url
        facts.append(Fact(CI_LABELS[name], text, url if is_web_url(url) else ""))
    return facts


def is_web_url(text: str) -> bool:
    """Whether ``text`` is an http or https URL, the only kind the portal links to."""
    return text.lower().startswith(("https://", "http://"))


@dataclass
class ChartKey:
    key: str
    last: str
    count: int


@dataclass
class ChartGroup:
    prefix: str
    keys: list[ChartKey]

    @property
    def title(self) -> str:
        if self.prefix == SYSTEM_PREFIX:
            return "system/ (CPU, memory, GPUs)"
        if self.prefix == OTHER_PREFIX:
            return "other"
        return f"{self.prefix}/"


KEY_METRICS_MAX = 4


def key_metrics(
    summaries: list[tuple[str, float | None, int]], *, primary: list[str]
) -> list[ChartKey]:
    """The metrics the run page's header shows, from ``(key, last, count)`` rows: the
    project's primary metrics that the run logged, in the project's order; when it
    logged none of them, its first keys in code-point order that are not system
    metrics. At most KEY_METRICS_MAX either way."""
    rows = {key: ChartKey(key, metric_text(last), count) for key, last, count in summaries}
    chosen = [rows[key] for key in primary if key in rows]
    if not chosen:
        chosen = [rows[key] for key in sorted(rows) if key_prefix(key) != SYSTEM_PREFIX]
    return chosen[:KEY_METRICS_MAX]


def key_prefix(key: str) -> str:
    """The chart group of a metric key: the text before its first "/", or "other"."""
    head, slash, _ = key.partition("/")
    return head if slash and head else OTHER_PREFIX


def chart_groups(summaries: list[tuple[str, float | None, int]]) -> list[ChartGroup]:
    """``(key, last, count)`` rows as groups by prefix: the named prefixes
    alphabetically, then ``system``, then ``other``; keys in code-point order inside
    each (as the page's script inserts keys that appear later), whatever the
    database's collation."""
    groups: dict[str, ChartGroup] = {}
    for key, last, count in sorted(summaries, key=lambda row: row[0]):
        prefix = key_prefix(key)
        group = groups.get(prefix)
        if group is None:
            group = groups[prefix] = ChartGroup(prefix, [])
        group.keys.append(ChartKey(key, metric_text(last), count))

    def order(prefix: str) -> tuple[int, str]:
        return ({SYSTEM_PREFIX: 1, OTHER_PREFIX: 2}.get(prefix, 0), prefix)

    return [groups[prefix] for prefix in sorted(groups, key=order)]
