"""``columns=``: which params, metrics and tags a runs listing returns.

A project may have thousands of distinct keys; a table shows a few. Columns are
fetched for the whole page in one query per kind, never per run.

Without ``columns`` a listing still stays small however much a run records: each run
carries its first ``DEFAULT_KEYS_PER_KIND`` params, metric summaries and tags (by
key), and ``truncated`` says which kinds hold more (ask for them by name with
``columns``, or read the run).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, TypedDict, TypeVar

from django.db import connection
from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber

from apps.core.errors import Invalid
from apps.core.floats import float_out
from apps.core.schema import WireFloat
from apps.runs.models import MetricSummary, Param, Run, Tag
from apps.runs.validation import key_clean

MAX_COLUMNS = 200
DEFAULT_KEYS_PER_KIND = 100
KINDS = ("params", "metrics", "tags")
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
    ``{key: summary}`` already in their wire form."""

    params: dict[int, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    metrics: dict[int, dict[str, MetricSummaryOut]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    tags: dict[int, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    # Per run id, the kinds that hold more keys than were fetched.
    truncated: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))

    def for_run(self, run: Run) -> dict[str, Any]:
        return {
            "params": self.params[run.pk],
            "metrics": self.metrics[run.pk],
            "tags": self.tags[run.pk],
            "truncated": {kind: kind in self.truncated[run.pk] for kind in KINDS},
        }

    def _cut(self) -> None:
        """Keep the first DEFAULT_KEYS_PER_KIND of each run's kinds (fetched in key
        order, one more than that where there are more), noting where there were."""
        for kind in KINDS:
            for run_id, values in getattr(self, kind).items():
                if len(values) > DEFAULT_KEYS_PER_KIND:
                    kept = list(values.items())[:DEFAULT_KEYS_PER_KIND]
                    getattr(self, kind)[run_id] = dict(kept)
                    self.truncated[run_id].add(kind)


SUMMARY_FIELDS = ("key", "last", "min", "max", "count", "last_step", "last_timestamp")


class MetricSummaryOut(TypedDict):
    """One metric of a run on the wire: its last value and its range."""

    key: str
    last: Annotated[WireFloat, "the value at the highest step"]
    min: Annotated[WireFloat | None, "null when every value is NaN"]
    max: Annotated[WireFloat | None, "null when every value is NaN"]
    count: Annotated[int, "how many points"]
    last_step: int
    last_timestamp: datetime


def metric_summary_out(summary: Mapping[str, Any]) -> MetricSummaryOut:
    """A MetricSummary row (as a dict of its fields) on the wire."""
    last = summary["last"]
    return {
        "key": summary["key"],
        # A NULL last is a NaN value at the highest step.
        "last": float_out(last) if last is not None else "NaN",
        "min": float_out(summary["min"]),
        "max": float_out(summary["max"]),
        "count": summary["count"],
        "last_step": summary["last_step"],
        "last_timestamp": summary["last_timestamp"],
    }


def columns_prefetch(runs: list[Run], columns: Columns | None) -> Chosen:
    """The chosen columns for a whole page of runs: one query on PostgreSQL (which
    builds the JSON), one per kind elsewhere. ``None`` chooses the default: each
    run's first DEFAULT_KEYS_PER_KIND keys of each kind, with ``truncated`` set for
    the kinds that hold more."""
    chosen = Chosen()
    ids = [run.pk for run in runs]
    if not ids:
        return chosen
    if connection.vendor == "postgresql":
        _prefetch_postgres(chosen, ids, columns)
    else:
        _prefetch_orm(chosen, ids, columns)
    if columns is None:
        chosen._cut()
    return chosen


def _prefetch_orm(chosen: Chosen, ids: list[int], columns: Columns | None) -> None:
    params = _chosen_rows(Param.objects.filter(run_id__in=ids), columns, "params")
    if params is not None:
        for run_id, key, value in params.order_by("key").values_list("run_id", "key", "value"):
            chosen.params[run_id][key] = value
    summaries = _chosen_rows(MetricSummary.objects.filter(run_id__in=ids), columns, "metrics")
    if summaries is not None:
        for row in summaries.order_by("key").values("run_id", *SUMMARY_FIELDS):
            chosen.metrics[row["run_id"]][row["key"]] = metric_summary_out(row)
    tags = _chosen_rows(Tag.objects.filter(run_id__in=ids), columns, "tags")
    if tags is not None:
        for run_id, key, value in tags.order_by("key").values_list("run_id", "key", "value"):
            chosen.tags[run_id][key] = value


_Keyed = TypeVar("_Keyed", Param, MetricSummary, Tag)


def _chosen_rows(
    rows: QuerySet[_Keyed], columns: Columns | None, name: str
) -> QuerySet[_Keyed] | None:
    """``rows`` cut to the keys of kind ``name`` that ``columns`` chooses (None when it
    chooses none of that kind), or to each run's first keys when ``columns`` is None."""
    if columns is not None:
        keys = getattr(columns, name)
        if not keys:
            return None
        return rows.filter(key__in=keys)
    # One more than is shown, so that the cut knows there were more.
    rank = Window(RowNumber(), partition_by=[F("run_id")], order_by=[F("key").asc()])
    return rows.annotate(rank=rank).filter(rank__lte=DEFAULT_KEYS_PER_KIND + 1)


# PostgreSQL writes non-finite floats in JSON as the strings "NaN", "Infinity" and
# "-Infinity", which is Kiroku's wire form; a NULL last is a NaN value.
_PG_COLUMN_SQL = {
    "params": "SELECT json_object_agg(p.key, p.value ORDER BY p.key) FROM {table} p "
    "WHERE p.run_id = r.id{keys}",
    "tags": "SELECT json_object_agg(t.key, t.value ORDER BY t.key) FROM {table} t "
    "WHERE t.run_id = r.id{keys}",
    "metrics": "SELECT json_object_agg(m.key, json_build_object('key', m.key, 'last', "
    "COALESCE(to_json(m.last), '\"NaN\"'::json), 'min', m.min, 'max', m.max, "
    "'count', m.count, 'last_step', m.last_step, 'last_timestamp', "
    "to_char(m.last_timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
    "CASE WHEN date_part('microseconds', m.last_timestamp)::bigint %% 1000000 = 0 THEN '' "
    "ELSE to_char(m.last_timestamp AT TIME ZONE 'UTC', '.US') END || 'Z') ORDER BY m.key) "
    "FROM {table} m WHERE m.run_id = r.id{keys}",
}
_PG_TABLES = {"params": "runs_param", "metrics": "runs_metricsummary", "tags": "runs_tag"}
# The default columns: a run's first keys (one more than shown), from the (run, key)
# unique index, instead of the whole table of the run.
_PG_FIRST_KEYS = (
    "(SELECT * FROM {table} WHERE run_id = r.id ORDER BY key LIMIT "  # noqa: S608 (constants)
    + str(DEFAULT_KEYS_PER_KIND + 1)
    + ")"
)


def _prefetch_postgres(chosen: Chosen, ids: list[int], columns: Columns | None) -> None:
    selects, params = [], {"ids": ids}
    kinds = [
        name for name in ("params", "metrics", "tags") if columns is None or getattr(columns, name)
    ]
    for name in kinds:
        keys, table = "", _PG_FIRST_KEYS.format(table=_PG_TABLES[name])
        if columns is not None:
            keys, table = f" AND {name[0]}.key = ANY(%({name})s)", _PG_TABLES[name]
            params[name] = getattr(columns, name)
        selects.append(f"({_PG_COLUMN_SQL[name].format(keys=keys, table=table)})")
    if not selects:
        return
    sql = f"SELECT r.id, {', '.join(selects)} FROM unnest(%(ids)s::bigint[]) AS r(id)"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    for run_id, *values in rows:
        for name, value in zip(kinds, values, strict=True):
            if value is None:
                continue
            if isinstance(value, str):  # a json column the driver left as text
                value = json.loads(value)
            getattr(chosen, name)[run_id] = value
