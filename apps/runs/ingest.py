"""``run_log_batch``: the one write primitive for a live run.

A batch is validated whole (apps.runs.validation) and written whole in one
transaction, or not at all:

1. The ``(run, batch_id)`` marker is inserted first, under a unique constraint. A
   retry of a batch already applied (or still in flight: its insert waits for the
   first transaction) finds the marker and gets the first response back, before any
   state check, and writes nothing.
2. The run row is locked, so concurrent writers to one run are serialised and the
   per-key summaries are merged without a read-modify-write race.
3. Points: ``(run, key, step)`` holds one value. Re-sending the same value is a no-op;
   a different value replaces it (last write wins, what a resumed run needs), and
   that key's summary is then recomputed from its history. Steps may arrive in any
   order; a summary's ``last`` is the value at the highest step.

On PostgreSQL points go in by binary COPY into a temporary staging table and one
``INSERT … ON CONFLICT``; elsewhere through the ORM.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from apps.accounts.principal import Principal
from apps.core.errors import Conflict
from apps.core.metrics import points_ingested
from apps.events import registry as domain_events
from apps.events.services import event_emit
from apps.projects.access import require_role
from apps.projects.models import Role
from apps.runs.models import TERMINAL_STATUSES, LogBatch, MetricPoint, MetricSummary, Run
from apps.runs.recording import datasets_upsert, params_add, summary_upsert, tags_apply
from apps.runs.validation import LogBatchIn, PointIn


@dataclass
class KeyStats:
    """What one batch did to one key."""

    inserted: int = 0
    replaced: int = 0
    min: float | None = None
    max: float | None = None
    max_step: int | None = None
    last_value: float | None = None
    last_timestamp: datetime | None = None


def run_log_batch(
    *, principal: Principal, run: Run, clean: Callable[[], LogBatchIn]
) -> tuple[dict[str, Any], bool]:
    """Apply a batch to ``run``, which the principal may read. Returns ``(response,
    replayed)``.

    ``clean`` reads and validates the request's batch (apps.runs.validation); it is
    called once the principal is known to hold the member role, so one that may only
    read is refused (Forbidden, 403) whatever it sent. Raises what ``clean`` raises
    (Invalid, 400), and Conflict (409) when the run has ended and the batch carries
    points or params, or when a param would change value.
    """
    # The one place the member role is checked for ingestion (the API view only
    # resolves the run as readable: 404 otherwise).
    require_role(principal, run.project, Role.MEMBER, what="run")
    batch = clean()
    with transaction.atomic():
        marker_id = _batch_claim(run.pk, batch.batch_id)
        if marker_id is None:
            previous = LogBatch.objects.get(run=run, batch_id=batch.batch_id)
            # The marker is inserted and given its response in one transaction, so a
            # marker this one can see always holds a response.
            return cast(dict[str, Any], previous.response), True
        run.status, metrics_event = _run_lock_and_touch(run.pk, has_points=bool(batch.points))
        if run.status in TERMINAL_STATUSES and (batch.points or batch.params):
            raise Conflict(
                f"run has ended ({run.status}); it takes no new metrics or params",
                field="metrics" if batch.points else "params",
            )
        new_params = params_add(run=run, params=batch.params)
        changed_tags = tags_apply(run=run, tags=batch.tags)
        summary_count = summary_upsert(run=run, summary=batch.summary)
        dataset_count = datasets_upsert(run=run, datasets=batch.datasets)
        stats = points_ingest(run_id=run.pk, points=batch.points)
        inserted = sum(s.inserted for s in stats.values())
        replaced = sum(s.replaced for s in stats.values())
        response = {
            "run_id": run.public_id,
            "batch_id": batch.batch_id,
            "status": run.status,
            "stored": {
                "metrics": inserted,
                "metrics_replaced": replaced,
                "metrics_unchanged": len(batch.points) - inserted - replaced,
                "params": new_params,
                "tags": len(changed_tags),
                "summary": summary_count,
                "datasets": dataset_count,
            },
        }
        LogBatch.objects.filter(pk=marker_id).update(response=response)
        if batch.points:
            # Counted once the batch is durable (rate() of it: points per second).
            transaction.on_commit(partial(points_ingested, len(batch.points)))
        if metrics_event and inserted + replaced:
            # Coalesced: at most one per run every KIROKU_METRICS_EVENT_INTERVAL seconds;
            # subscribers read the current summaries (threshold rules).
            event_emit(
                type=domain_events.RUN_METRICS_UPDATED,
                project_id=run.project_id,
                run_id=run.pk,
                payload={"run_id": run.public_id},
            )
    return response, False


def _batch_claim(run_pk: int, batch_id: str) -> int | None:
    """Insert the ``(run, batch_id)`` marker; None when it exists already.

    While another transaction holds an uncommitted marker for the same batch, the
    insert waits for it: after its commit this answers None (replay), after its
    rollback the marker is ours.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO runs_logbatch (run_id, batch_id, created_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (run_id, batch_id) DO NOTHING RETURNING id",
            [run_pk, batch_id, connection.ops.adapt_datetimefield_value(timezone.now())],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _run_lock_and_touch(run_pk: int, *, has_points: bool) -> tuple[str, bool]:
    """Lock the run's row for this transaction (writers to one run are serialised)
    and record that its client is alive: the heartbeat moves, and a CRASHED run
    comes back to RUNNING. An ended run is left as it is.

    Returns the status, and whether this batch (when it has points) is the one that
    announces new metrics: the first since ``KIROKU_METRICS_EVENT_INTERVAL`` seconds,
    decided in the same statement so concurrent batches cannot both announce."""
    ended = "', '".join(TERMINAL_STATUSES)
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.KIROKU_METRICS_EVENT_INTERVAL_SECONDS)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE runs_run SET "  # noqa: S608 (constants only)
            f"heartbeat_at = CASE WHEN status IN ('{ended}') THEN heartbeat_at ELSE %s END, "
            "metrics_event_at = CASE WHEN %s AND (metrics_event_at IS NULL "
            "OR metrics_event_at < %s) THEN %s ELSE metrics_event_at END, "
            "ended_at = CASE WHEN status = 'CRASHED' THEN NULL ELSE ended_at END, "
            "status = CASE WHEN status = 'CRASHED' THEN 'RUNNING' ELSE status END "
            "WHERE id = %s RETURNING status, metrics_event_at",
            [adapt(now), has_points, adapt(cutoff), adapt(now), run_pk],
        )
        status, metrics_event_at = cursor.fetchone()
    announced = has_points and metrics_event_at is not None and _same_time(metrics_event_at, now)
    return status, announced


def _same_time(stored: Any, now: datetime) -> bool:
    """SQLite hands back text or a naive UTC datetime, PostgreSQL an aware one."""
    moment: datetime = datetime.fromisoformat(stored) if isinstance(stored, str) else stored
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment == now


def _stored(value: float) -> float | None:
    # NaN is stored as NULL (see MetricPoint).
    return None if math.isnan(value) else value


def points_ingest(*, run_id: int, points: list[PointIn]) -> dict[str, KeyStats]:
    """Write the points and bring each touched key's summary up to date. Returns
    what the batch did per key. The caller holds the run's row lock."""
    if not points:
        return {}
    if connection.vendor == "postgresql":
        return points_ingest_copy(run_id=run_id, points=points)
    return points_ingest_orm(run_id=run_id, points=points)


# The summary merge is written twice: in SQL inside _UPSERT_FROM_STAGE (PostgreSQL: the
# points never come back to Python) and in Python in summaries_merge (elsewhere).
# tests/runs/test_summary_merge.py runs the same batches through both and asserts the
# same summaries.


def points_ingest_copy(*, run_id: int, points: list[PointIn]) -> dict[str, KeyStats]:
    """points_ingest on PostgreSQL: COPY into the staging table, then one statement
    that upserts the points and merges the summaries in SQL; a key with a replaced
    value is recomputed from its history."""
    stats = _points_ingest_postgres(run_id, points)
    replaced = [key for key, stat in stats.items() if stat.replaced]
    if replaced:
        _summaries_upsert(run_id, _summaries_recompute(run_id, replaced))
    return stats


def points_ingest_orm(*, run_id: int, points: list[PointIn]) -> dict[str, KeyStats]:
    """points_ingest through the ORM (any database), the summaries merged in Python."""
    stats = _points_write_orm(run_id, points)
    summaries_merge(run_id=run_id, stats=stats)
    return stats


# The session's staging table; ON COMMIT DELETE ROWS empties it at each commit.
_STAGE_PREPARE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS kiroku_point_stage "
    "(key text, step bigint, value float8, ts timestamptz) ON COMMIT DELETE ROWS"
)
# Inside a savepoint (the batch's transaction nested in another) an earlier batch's
# rows may still be there: empty it then. Not on every batch: TRUNCATE writes to the
# system catalogs.
_STAGE_PREPARE_NESTED = _STAGE_PREPARE + "; TRUNCATE kiroku_point_stage"

# One statement: upsert the staged points, then merge the new points into each key's
# summary. Keys where a value was replaced are left out of the merge and recomputed
# from their history afterwards. LEAST/GREATEST skip NULLs, which is how NaN is stored.
_UPSERT_FROM_STAGE = """
WITH up AS (
    INSERT INTO runs_metricpoint AS mp (run_id, key, step, value, "timestamp")
    SELECT %(run_id)s, key, step, value, ts FROM kiroku_point_stage
    ON CONFLICT (run_id, key, step) DO UPDATE
        SET value = EXCLUDED.value, "timestamp" = EXCLUDED."timestamp"
        WHERE mp.value IS DISTINCT FROM EXCLUDED.value
    RETURNING key, step, value, "timestamp", (xmax = 0) AS inserted
), batch AS (
    SELECT key,
           count(*) FILTER (WHERE inserted) AS inserted,
           count(*) FILTER (WHERE NOT inserted) AS replaced,
           min(value) FILTER (WHERE inserted) AS lo,
           max(value) FILTER (WHERE inserted) AS hi,
           max(step) FILTER (WHERE inserted) AS last_step,
           (array_agg(value ORDER BY step DESC) FILTER (WHERE inserted))[1] AS last,
           (array_agg("timestamp" ORDER BY step DESC) FILTER (WHERE inserted))[1] AS last_ts
    FROM up GROUP BY key
), merged AS (
    INSERT INTO runs_metricsummary AS s
        (run_id, key, last, last_step, min, max, count, last_timestamp)
    SELECT %(run_id)s, key, last, last_step, lo, hi, inserted, last_ts
    FROM batch WHERE replaced = 0
    ON CONFLICT (run_id, key) DO UPDATE SET
        count = s.count + EXCLUDED.count,
        min = LEAST(s.min, EXCLUDED.min),
        max = GREATEST(s.max, EXCLUDED.max),
        last = CASE WHEN EXCLUDED.last_step > s.last_step THEN EXCLUDED.last ELSE s.last END,
        last_timestamp = CASE WHEN EXCLUDED.last_step > s.last_step
                              THEN EXCLUDED.last_timestamp ELSE s.last_timestamp END,
        last_step = GREATEST(s.last_step, EXCLUDED.last_step)
)
SELECT key, inserted, replaced FROM batch
"""


def _points_ingest_postgres(run_id: int, points: list[PointIn]) -> dict[str, KeyStats]:
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor, for COPY
        raw.execute(_STAGE_PREPARE_NESTED if connection.savepoint_ids else _STAGE_PREPARE)
        with raw.copy(
            "COPY kiroku_point_stage (key, step, value, ts) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["text", "int8", "float8", "timestamptz"])
            write = copy.write_row
            for p in points:
                value = p.value
                write((p.key, p.step, None if value != value else value, p.timestamp))
        raw.execute(_UPSERT_FROM_STAGE, {"run_id": run_id})
        rows = raw.fetchall()
    return {key: KeyStats(inserted=ins, replaced=rep) for key, ins, rep in rows}


def _points_write_orm(run_id: int, points: list[PointIn]) -> dict[str, KeyStats]:
    by_key: dict[str, list[PointIn]] = {}
    for p in points:
        by_key.setdefault(p.key, []).append(p)
    stats: dict[str, KeyStats] = {}
    for key, group in by_key.items():
        steps = [p.step for p in group]
        existing = dict(
            MetricPoint.objects.filter(
                run_id=run_id, key=key, step__gte=min(steps), step__lte=max(steps)
            ).values_list("step", "value")
        )
        new: list[MetricPoint] = []
        stat = KeyStats()
        for p in group:
            value = _stored(p.value)
            if p.step not in existing:
                new.append(
                    MetricPoint(
                        run_id=run_id, key=key, step=p.step, value=value, timestamp=p.timestamp
                    )
                )
            elif existing[p.step] != value:
                MetricPoint.objects.filter(run_id=run_id, key=key, step=p.step).update(
                    value=value, timestamp=p.timestamp
                )
                stat.replaced += 1
        MetricPoint.objects.bulk_create(new, batch_size=500)
        stat.inserted = len(new)
        for point in new:
            if point.value is not None:
                stat.min = point.value if stat.min is None else min(stat.min, point.value)
                stat.max = point.value if stat.max is None else max(stat.max, point.value)
            if stat.max_step is None or point.step > stat.max_step:
                stat.max_step = point.step
                stat.last_value = point.value
                stat.last_timestamp = point.timestamp
        stats[key] = stat
    return stats


def _lowest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _highest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def summaries_merge(*, run_id: int, stats: dict[str, KeyStats]) -> None:
    """Bring each touched key's MetricSummary up to date. Keys with a replaced value
    are recomputed from their history; the rest are merged incrementally."""
    touched = [k for k, s in stats.items() if s.inserted or s.replaced]
    if not touched:
        return
    recompute = [k for k in touched if stats[k].replaced]
    merge = [k for k in touched if not stats[k].replaced]
    rows: list[tuple[Any, ...]] = []
    existing = (
        {s.key: s for s in MetricSummary.objects.filter(run_id=run_id, key__in=merge)}
        if merge
        else {}
    )
    for key in merge:
        b = stats[key]
        old = existing.get(key)
        if old is None:
            rows.append((key, b.last_value, b.max_step, b.min, b.max, b.inserted, b.last_timestamp))
            continue
        newer = b.max_step is not None and b.max_step > old.last_step
        rows.append(
            (
                key,
                b.last_value if newer else old.last,
                b.max_step if newer else old.last_step,
                _lowest(old.min, b.min),
                _highest(old.max, b.max),
                old.count + b.inserted,
                b.last_timestamp if newer else old.last_timestamp,
            )
        )
    if recompute:
        rows.extend(_summaries_recompute(run_id, recompute))
    _summaries_upsert(run_id, rows)


def _summaries_recompute(run_id: int, keys: list[str]) -> list[tuple[Any, ...]]:
    aggregates = (
        MetricPoint.objects.filter(run_id=run_id, key__in=keys)
        .values("key")
        .annotate(lo=Min("value"), hi=Max("value"), n=Count("step"), last_step=Max("step"))
    )
    by_key = {a["key"]: a for a in aggregates}
    last_filter = Q()
    for key, a in by_key.items():
        last_filter |= Q(key=key, step=a["last_step"])
    lasts = {
        p["key"]: p
        for p in MetricPoint.objects.filter(last_filter, run_id=run_id).values(
            "key", "value", "timestamp"
        )
    }
    return [
        (
            key,
            lasts[key]["value"],
            a["last_step"],
            a["lo"],
            a["hi"],
            a["n"],
            lasts[key]["timestamp"],
        )
        for key, a in by_key.items()
    ]


_SUMMARY_COLUMNS = ("run_id", "key", "last", "last_step", "min", "max", "count", "last_timestamp")


def _summaries_upsert(run_id: int, rows: list[tuple[Any, ...]]) -> None:
    """One ``INSERT … ON CONFLICT`` (PostgreSQL and SQLite share the syntax)."""
    quote = connection.ops.quote_name
    table = quote(MetricSummary._meta.db_table)
    columns = ", ".join(quote(c) for c in _SUMMARY_COLUMNS)
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in _SUMMARY_COLUMNS[2:])
    adapt = connection.ops.adapt_datetimefield_value
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        placeholders = ", ".join(
            ["(" + ", ".join(["%s"] * len(_SUMMARY_COLUMNS)) + ")"] * len(chunk)
        )
        params: list[Any] = []
        for key, last, last_step, lo, hi, count, last_ts in chunk:
            params += [run_id, key, last, last_step, lo, hi, count, adapt(last_ts)]
        sql = (
            f"INSERT INTO {table} ({columns}) VALUES {placeholders} "  # noqa: S608
            f"ON CONFLICT ({quote('run_id')}, {quote('key')}) DO UPDATE SET {updates}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
