"""The floor for ingestion: Kiroku's metric writes done with psycopg 3 directly.

Per batch, in one transaction, what Kiroku's ingestion does minus HTTP and Django:
COPY the points into a temporary staging table, one ``INSERT ... ON CONFLICT (run_id,
key, step) DO UPDATE`` into ``runs_metricpoint``, and one upsert of the per-key summary
into ``runs_metricsummary``. It writes into a migrated Kiroku database (same tables,
indexes and foreign keys); the project and runs it writes to are created through
Django's ORM before the clock starts, so it follows Kiroku's schema as that changes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiroku_bench \\
        .venv/bin/python -m bench.raw_sql --points 1000000
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bench.common import (
    add_ingest_arguments,
    add_output_arguments,
    chunked,
    emit,
    ingest_record,
    metric_points,
    note,
    run_concurrently,
    share,
    stamp,
)
from bench.cpu import CpuMeter

STAGING = """
CREATE TEMPORARY TABLE IF NOT EXISTS bench_staging (
    key varchar(250) NOT NULL,
    step bigint NOT NULL,
    value double precision,
    timestamp timestamptz NOT NULL
) ON COMMIT DELETE ROWS
"""

# The points go in; "written" says which were new, so the count only grows by those.
# The summary keeps the value at the highest step as "last"; LEAST/GREATEST skip NULLs
# (NaN is stored as NULL), which is the rule for min and max.
UPSERT = """
WITH written AS (
    INSERT INTO runs_metricpoint AS p (run_id, key, step, value, timestamp)
    SELECT %(run)s, key, step, value, timestamp FROM bench_staging
    ON CONFLICT (run_id, key, step)
    DO UPDATE SET value = EXCLUDED.value, timestamp = EXCLUDED.timestamp
    WHERE p.value IS DISTINCT FROM EXCLUDED.value
    RETURNING p.key, p.step, p.value, p.timestamp, (p.xmax = 0) AS inserted
)
INSERT INTO runs_metricsummary AS s
    (run_id, key, last, last_step, min, max, count, last_timestamp)
SELECT
    %(run)s,
    key,
    (array_agg(value ORDER BY step DESC))[1],
    max(step),
    min(value),
    max(value),
    count(*) FILTER (WHERE inserted),
    (array_agg(timestamp ORDER BY step DESC))[1]
FROM written
GROUP BY key
ON CONFLICT (run_id, key) DO UPDATE SET
    last = CASE WHEN EXCLUDED.last_step >= s.last_step THEN EXCLUDED.last ELSE s.last END,
    last_timestamp = CASE
        WHEN EXCLUDED.last_step >= s.last_step THEN EXCLUDED.last_timestamp
        ELSE s.last_timestamp
    END,
    last_step = GREATEST(s.last_step, EXCLUDED.last_step),
    min = LEAST(s.min, EXCLUDED.min),
    max = GREATEST(s.max, EXCLUDED.max),
    count = s.count + EXCLUDED.count
"""


def create_runs(database_url: str, clients: int, label: str) -> list[int]:
    """A project and one run per client, made by Kiroku's own models; returns run pks."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    import django

    django.setup()
    from django.db import connection

    from apps.projects.models import Project
    from apps.runs.models import Run

    project = Project.objects.create(slug=label, name=label)
    runs = [Run.objects.create(project=project, name=f"client-{i}").pk for i in range(clients)]
    connection.close()
    return runs


def copy_text(points: list[tuple[str, int, float]], when: str) -> bytes:
    """The batch as COPY text rows: key, step, value, timestamp."""
    return "".join(f"{k}\t{s}\t{v!r}\t{when}\n" for k, s, v in points).encode()


def measure(
    database_url: str, *, clients: int, batch: int, total: int, round_number: int = 1
) -> dict:
    label = f"raw-sql-{stamp()}-r{round_number}-c{clients}-b{batch}"
    runs = create_runs(database_url, clients, label)
    when = datetime.now(UTC).isoformat()
    payloads = [
        [copy_text(list(chunk), when) for chunk in chunked(list(metric_points(n, seed=i)), batch)]
        for i, n in enumerate(share(total, clients))
    ]
    connections = [psycopg.connect(database_url) for _ in range(clients)]
    for conn in connections:
        with conn.transaction():
            conn.execute(STAGING)

    def worker(index: int):
        def send_all() -> None:
            conn, run = connections[index], runs[index]
            for payload in payloads[index]:
                with conn.transaction(), conn.cursor() as cur:
                    with cur.copy(
                        "COPY bench_staging (key, step, value, timestamp) FROM STDIN"
                    ) as copy:
                        copy.write(payload)
                    cur.execute(UPSERT, {"run": run}, prepare=True)

        return send_all

    note(f"raw_sql: {clients} client(s), batches of {batch:,}, {total:,} points")
    meter = CpuMeter(server_session=None, database_url=database_url)
    try:
        meter.start()
        seconds, _ = run_concurrently([worker(i) for i in range(clients)])
        cpu = meter.stop()
        with connections[0].cursor() as cur:
            cur.execute("SELECT count(*) FROM runs_metricpoint WHERE run_id = ANY(%s)", [runs])
            (stored,) = cur.fetchone()
    finally:
        meter.close()
        for conn in connections:
            conn.close()
    return ingest_record(
        "raw_sql",
        clients=clients,
        batch=batch,
        points=total,
        seconds=seconds,
        cpu=cpu,
        round=round_number,
        requests=sum(len(p) for p in payloads),
        stored=stored,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="a migrated Kiroku PostgreSQL database (DATABASE_URL)",
    )
    add_ingest_arguments(parser)
    add_output_arguments(parser, rounds=True)
    args = parser.parse_args(argv)
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("needs a PostgreSQL --database-url (or DATABASE_URL)")

    for round_number in range(1, args.rounds + 1):
        for batch in args.batches:
            for clients in args.clients:
                record = measure(
                    args.database_url,
                    clients=clients,
                    batch=batch,
                    total=args.points,
                    round_number=round_number,
                )
                emit(record, args.out)


if __name__ == "__main__":
    main()
