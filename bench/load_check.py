"""bench.load's accounting: what the database holds against every point the clients
sent, the latency and error figures of their requests, and a scenario's JSON records."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench.common import percentile
from bench.load_client import value

# Seconds from the fault that its phase covers (a quarter of a short run).
FAULT_WINDOW = 30.0


def check_points(db_url: str, clients: list[dict[str, Any]]) -> dict[str, Any]:
    """Compare each client's run in the database with what the client logged: steps
    ``0..steps-1`` of keys ``k0..k{keys-1}``, each once, with ``value(client, key, step)``.

    ``lost``: sent and not stored; ``duplicated``: a (key, step) stored more than once
    (the primary key forbids it, so this also checks that it is there); ``unexpected``:
    stored and never sent; ``wrong_value``: stored with another value;
    ``summary_mismatch``: keys whose summary (count, min, max, last, last_step) is not
    what the points imply (a batch counted twice would show here); ``not_finished``:
    runs not FINISHED; ``missing_runs``: clients whose run is not in the database.
    """
    import psycopg

    totals: Counter[str] = Counter()
    with psycopg.connect(db_url) as conn:
        for client in clients:
            keys, steps = int(client["keys"]), int(client["steps"])
            totals["points_sent"] += keys * steps
            row = conn.execute(
                "SELECT id, status FROM runs_run WHERE public_id = %s", [client.get("run_id")]
            ).fetchone()
            if row is None:
                totals["missing_runs"] += 1
                totals["lost"] += keys * steps
                continue
            run_pk, status = row
            totals["not_finished"] += status != "FINISHED"
            totals["log_batches_stored"] += conn.execute(
                "SELECT count(*) FROM runs_logbatch WHERE run_id = %s", [run_pk]
            ).fetchone()[0]
            index = int(client["client"])
            seen: set[tuple[int, int]] = set()
            stored = conn.execute(
                "SELECT key, step, value FROM runs_metricpoint WHERE run_id = %s", [run_pk]
            )
            for key, step, stored_value in stored:
                totals["points_stored"] += 1
                k = int(key[1:]) if key[:1] == "k" and key[1:].isdigit() else -1
                if not (0 <= k < keys and 0 <= step < steps):
                    totals["unexpected"] += 1
                    continue
                if (k, step) in seen:
                    totals["duplicated"] += 1
                    continue
                seen.add((k, step))
                if stored_value != value(index, k, step):
                    totals["wrong_value"] += 1
            totals["lost"] += keys * steps - len(seen)
            totals["summary_mismatch"] += _summary_mismatches(conn, run_pk, index, keys, steps)
    for name in ("points_stored", "lost", "duplicated", "unexpected", "wrong_value"):
        totals.setdefault(name, 0)
    for name in ("summary_mismatch", "not_finished", "missing_runs"):
        totals.setdefault(name, 0)
    return dict(totals)


def _summary_mismatches(conn: Any, run_pk: int, client: int, keys: int, steps: int) -> int:
    if steps == 0:
        return 0
    summaries = {
        key: rest
        for key, *rest in conn.execute(
            "SELECT key, count, min, max, last, last_step FROM runs_metricsummary "
            "WHERE run_id = %s",
            [run_pk],
        )
    }
    mismatches = 0
    for k in range(keys):
        values = [value(client, k, step) for step in range(steps)]
        expected = [steps, min(values), max(values), values[-1], steps - 1]
        mismatches += summaries.get(f"k{k}") != expected
    return mismatches


def retries_replayed(db_url: str, clients: list[dict[str, Any]], start: float) -> dict[str, int]:
    """Of the log batches sent more than once, how many had been written by an earlier
    attempt whose answer was lost (the batch's marker is older than the last attempt:
    the server answered the retry from it, writing nothing), and how many were written
    by the last attempt (the earlier ones had rolled back or never arrived)."""
    import psycopg

    counts: Counter[str] = Counter()
    with psycopg.connect(db_url) as conn:
        for client in clients:
            last_attempt: dict[str, float] = {}
            attempts: Counter[str] = Counter()
            for t, _ms, kind, _outcome, _points, batch_id in client["samples"]:
                if kind == "log" and batch_id:
                    attempts[batch_id] += 1
                    last_attempt[batch_id] = max(last_attempt.get(batch_id, t), t)
            retried = [b for b, n in attempts.items() if n > 1]
            if not retried:
                continue
            rows = conn.execute(
                "SELECT b.batch_id, extract(epoch FROM b.created_at) FROM runs_logbatch b "
                "JOIN runs_run r ON r.id = b.run_id "
                "WHERE r.public_id = %s AND b.batch_id = ANY(%s)",
                [client["run_id"], retried],
            ).fetchall()
            created = {batch_id: float(epoch) - start for batch_id, epoch in rows}
            for batch_id in retried:
                if batch_id not in created:
                    counts["retried_not_stored"] += 1
                elif created[batch_id] < last_attempt[batch_id]:
                    counts["retries_answered_from_marker"] += 1
                else:
                    counts["retries_written_by_last_attempt"] += 1
    return {
        name: counts[name]
        for name in (
            "retries_answered_from_marker",
            "retries_written_by_last_attempt",
            "retried_not_stored",
        )
    }


# --- latency and errors ----------------------------------------------------------------


def latency(samples: list[float]) -> dict[str, Any]:
    """``{"n", "p50_ms", "p99_ms", "max_ms"}`` of request times in milliseconds."""
    if not samples:
        return {"n": 0}
    return {
        "n": len(samples),
        "p50_ms": round(percentile(samples, 50), 1),
        "p99_ms": round(percentile(samples, 99), 1),
        "max_ms": round(max(samples), 1),
    }


def ok(outcome: Any) -> bool:
    return isinstance(outcome, int) and 200 <= outcome < 300


def summarize(
    client_samples: list[list[Any]],
    reader_samples: list[list[Any]],
    *,
    begin: float,
    end: float,
) -> dict[str, Any]:
    """Figures for requests that began in ``[begin, end)`` (seconds from the start):
    latency of the SDK's log requests and of the reader's two reads (answered 2xx),
    points delivered per second (points in 2xx-answered log requests), and every other
    outcome counted by kind (``log:503``, ``log:network``, ``history:500``...)."""
    chosen = [s for s in client_samples if begin <= s[0] < end]
    reads = [s for s in reader_samples if begin <= s[0] < end]
    errors: Counter[str] = Counter()
    for _t, _ms, kind, outcome, *_rest in chosen + reads:
        if not ok(outcome):
            errors[f"{kind}:{outcome}"] += 1
    delivered = sum(s[4] for s in chosen if s[2] == "log" and ok(s[3]))
    span = max(end - begin, 1e-9)
    return {
        "log": latency([s[1] for s in chosen if s[2] == "log" and ok(s[3])]),
        "read_runs": latency([s[1] for s in reads if s[2] == "runs" and ok(s[3])]),
        "read_history": latency([s[1] for s in reads if s[2] == "history" and ok(s[3])]),
        "points_delivered": delivered,
        "delivered_per_s": round(delivered / span, 1),
        "errors": dict(sorted(errors.items())),
    }


def retried_batches(client_samples: list[list[Any]]) -> dict[str, int]:
    """How many log batches were sent more than once (a failure, then a retry with the
    same batch_id), and how many batch ids were answered 2xx."""
    attempts: Counter[str] = Counter(s[5] for s in client_samples if s[2] == "log" and s[5])
    answered = {s[5] for s in client_samples if s[2] == "log" and s[5] and ok(s[3])}
    return {
        "log_batches_sent": len(attempts),
        "log_batches_retried": sum(1 for n in attempts.values() if n > 1),
        "log_batches_answered": len(answered),
    }


def scenario_records(
    scenario: str,
    args: Any,
    clients: list[dict[str, Any]],
    *,
    failed: list[int],
    reader_samples: list[list[Any]],
    reader_bad_answers: list[str],
    fault_record: dict[str, Any],
    syncs: list[dict[str, Any]],
    checked: dict[str, Any],
    load: dict[str, float],
) -> list[dict[str, Any]]:
    """bench.load's JSON records of one scenario: the ``load`` line (the check, the
    latencies and errors of the whole, the fault, the SDK's backlog and spool) and a
    ``load_phase`` line per phase (requests begun before the midpoint, in the
    ``FAULT_WINDOW`` from it, after). ``args`` are bench.load's arguments."""
    samples = [s for c in clients for s in c["samples"]]
    end = max([args.duration, *(s[0] + s[1] / 1000 for s in samples)])
    middle = args.duration / 2
    window = min(FAULT_WINDOW, args.duration / 4)
    phases = {
        "before": (0.0, middle),
        "fault": (middle, middle + window),
        "after": (middle + window, end),
    }
    whole = summarize(samples, reader_samples, begin=-1e9, end=1e9)
    perfect = all(checked[k] == 0 for k in ("lost", "duplicated", "unexpected", "wrong_value"))
    record = {
        "bench": "load",
        "scenario": scenario,
        "duration_s": args.duration,
        "clients": args.clients,
        "keys": args.keys,
        "rate_steps_per_s": args.rate,
        "points_offered_per_s": args.clients * args.keys * args.rate,
        "workers": args.workers,
        **checked,
        "exactly_once": perfect
        and checked["summary_mismatch"] == 0
        and checked["missing_runs"] == 0
        and not failed,
        "sustained_points_per_s": round(checked["points_stored"] / args.duration, 1),
        "log": whole["log"],
        "read_runs": whole["read_runs"],
        "read_history": whole["read_history"],
        "errors": whole["errors"],
        "fault": fault_record,
        **retried_batches(samples),
        "sdk": {
            "backlog_max_points": max((c["backlog_max"] for c in clients), default=0),
            "backlog_at_end_max": max((c["backlog_at_end"] for c in clients), default=0),
            "spool_max_points": max((c["spool_max"] for c in clients), default=0),
            "clients_that_spooled": sum(1 for c in clients if c["spool_max"] > 0),
            "clients_spool_left": sum(1 for c in clients if c["spool_left"]),
            "states": sorted({s for c in clients for s in c["states"]}),
            "finish_s": latency([c["finish_s"] * 1000 for c in clients]),
            "late_steps": sum(c["late_steps"] for c in clients),
            "warnings": sorted({w for c in clients for w in c["warnings"]})[:10],
        },
        "clients_failed": failed,
        "syncs": syncs,
        "reader_bad_answers": reader_bad_answers,
        "load_1m": load,
    }
    records = [record]
    for phase, (begin, stop) in phases.items():
        figures = summarize(samples, reader_samples, begin=begin, end=stop)
        records.append(
            {
                "bench": "load_phase",
                "scenario": scenario,
                "phase": phase,
                "from_s": round(begin, 1),
                "to_s": round(stop, 1),
                **figures,
            }
        )
    return records
