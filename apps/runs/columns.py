"""``columns=``: which params, metrics and tags a runs listing returns.

A project may have thousands of distinct keys; a table shows a few. Columns are
fetched for the whole page in one query per kind, never per run.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from apps.core.errors import Invalid
from apps.runs.models import MetricSummary, Param, Run, Tag
from apps.runs.validation import key_clean

MAX_COLUMNS = 200
_PREFIXES = {
    "params": "params",
    "param": "params",
    "metrics": "metrics",
    "metric": "metrics",
    "tags": "tags",
    "tag": "tags",
}


@dataclass
class Columns:
    params: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def columns_parse(raw: str | None) -> Columns | None:
    """``params.lr,metrics.eval/acc,tags.team`` → Columns; None means all columns."""
    if raw is None or raw.strip() == "":
        return None
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if len(items) > MAX_COLUMNS:
        raise Invalid(f"at most {MAX_COLUMNS} columns", field="columns")
    columns = Columns()
    for item in items:
        prefix, dot, key = item.partition(".")
        kind = _PREFIXES.get(prefix.lower())
        if not dot or kind is None:
            raise Invalid(
                f"column {item!r} must be params.<key>, metrics.<key> or tags.<key>",
                field="columns",
            )
        if key.startswith("`") and key.endswith("`") and len(key) >= 2:
            key = key[1:-1]
        getattr(columns, kind).append(key_clean(key, field="columns"))
    return columns


@dataclass
class Chosen:
    params: dict[int, list] = field(default_factory=lambda: defaultdict(list))
    metrics: dict[int, list] = field(default_factory=lambda: defaultdict(list))
    tags: dict[int, list] = field(default_factory=lambda: defaultdict(list))

    def for_run(self, run: Run) -> dict:
        return {
            "params": self.params[run.pk],
            "metrics": self.metrics[run.pk],
            "tags": self.tags[run.pk],
        }


def columns_prefetch(runs: list[Run], columns: Columns | None) -> Chosen:
    chosen = Chosen()
    ids = [run.pk for run in runs]
    if not ids:
        return chosen
    kinds = ((Param, "params"), (MetricSummary, "metrics"), (Tag, "tags"))
    for model, name in kinds:
        rows = model.objects.filter(run_id__in=ids)
        if columns is not None:
            keys = getattr(columns, name)
            if not keys:
                continue
            rows = rows.filter(key__in=keys)
        target = getattr(chosen, name)
        for row in rows.order_by("key"):
            target[row.run_id].append(row)
    return chosen
