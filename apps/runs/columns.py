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
    """Per run id: params and tags as ``{key: value}``, metric summaries as
    ``{key: row}`` (rows as dicts of MetricSummary's fields)."""

    params: dict[int, dict] = field(default_factory=lambda: defaultdict(dict))
    metrics: dict[int, dict] = field(default_factory=lambda: defaultdict(dict))
    tags: dict[int, dict] = field(default_factory=lambda: defaultdict(dict))

    def for_run(self, run: Run) -> dict:
        return {
            "params": self.params[run.pk],
            "metrics": self.metrics[run.pk],
            "tags": self.tags[run.pk],
        }


SUMMARY_FIELDS = ("key", "last", "min", "max", "count", "last_step", "last_timestamp")


def columns_prefetch(runs: list[Run], columns: Columns | None) -> Chosen:
    """Rows for the whole page in one query per kind, read as tuples (a page of
    100 runs with 30 columns each is thousands of rows)."""
    chosen = Chosen()
    ids = [run.pk for run in runs]
    if not ids:
        return chosen
    for model, name in ((Param, "params"), (MetricSummary, "metrics"), (Tag, "tags")):
        rows = model.objects.filter(run_id__in=ids)
        if columns is not None:
            keys = getattr(columns, name)
            if not keys:
                continue
            rows = rows.filter(key__in=keys)
        target = getattr(chosen, name)
        if name == "metrics":
            for row in rows.order_by("key").values("run_id", *SUMMARY_FIELDS):
                target[row["run_id"]][row["key"]] = row
        else:
            for run_id, key, value in rows.order_by("key").values_list("run_id", "key", "value"):
                target[run_id][key] = value
    return chosen
