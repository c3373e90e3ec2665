"""Portal server time at scale: the runs table, a big run's page and its chart data.

Seeds one project on PostgreSQL with ``--runs`` runs (each with 5 params, 2 tags and
10 metric summaries; ``--keys`` distinct metric keys across the project) whose newest
run also has a summary for every key and a ``--points``-point ``train/loss`` history
with one spike. Then, in-process through Django's test client signed in as the
project's admin, times each request below ``--repeat`` times (after 3 untimed) and
prints the median and p95 as JSON lines:

* ``runs_table``: the project's runs table, first page (what a bookmark opens);
* ``runs_table_filtered``: the same with a metric filter, sorted by a metric;
* ``run_page``: the big run's page (1,000 chart placeholders, params, summaries);
* ``run_metrics``: GET /api/v1/runs/{id}/metrics, the key list the page's charts read;
* ``chart_data``: GET /api/v1/runs/{id}/metrics/history?key=train/loss&max_points=1000.

The database (``--database-url``) is dropped and recreated first.

    .venv/bin/python -m bench.portal
    .venv/bin/python -m bench.portal --runs 2000 --points 50000 --repeat 10   # smoke
"""

from __future__ import annotations

import argparse
import os
import random
import time
from datetime import timedelta
from pathlib import Path

from bench.common import add_output_arguments, emit, env_int, note
from bench.django_pages import recreate_database, setup_django, timed

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/kiroku_bench_portal"
TARGETS_MS = {"runs_table": 300, "run_page": 300}
BIG_KEY = "train/loss"
SPIKE_STEP = 123_457
SPIKE_VALUE = 1_000.0
PARAMS_PER_RUN = 5
SUMMARIES_PER_RUN = 10
COMMON_KEYS = (BIG_KEY, "eval/acc")  # every run has these; the rest come from the pool


def metric_keys(count: int) -> list[str]:
    """``count`` distinct keys, grouped by prefix like a real project's."""
    prefixes = ("train", "eval", "system", "layers")
    pool = [f"{prefixes[i % 4]}/m{i:04d}" for i in range(count - len(COMMON_KEYS))]
    return [*COMMON_KEYS, *pool]


def _copy(cursor, table: str, columns: tuple[str, ...], rows) -> None:
    """COPY rows into table: the fastest way in, far ahead of INSERT batches."""
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def seed_project(*, project, author, runs: int, keys: int, points: int, seed: int = 7):
    """Fill ``project`` with ``runs`` runs (newest last) and return the newest run, which
    has a summary for every one of ``keys`` keys and ``points`` points of BIG_KEY with a
    spike of SPIKE_VALUE at SPIKE_STEP (or the middle step when fewer points).

    PostgreSQL only (COPY). Runs go in with bulk_create; params, tags, summaries and
    points with COPY. Takes a few seconds for 10,000 runs and 200,000 points.
    """
    from django.db import connection
    from django.utils import timezone

    from apps.runs.models import Run, RunStatus

    assert connection.vendor == "postgresql", "seed_project needs PostgreSQL (COPY)"
    rng = random.Random(seed)
    names = metric_keys(keys)
    pool = names[len(COMMON_KEYS) :]
    now = timezone.now()
    statuses = [RunStatus.FINISHED] * 8 + [RunStatus.FAILED, RunStatus.KILLED]
    objects = []
    for i in range(runs):
        created = now - timedelta(minutes=runs - i)
        newest = i == runs - 1
        status = RunStatus.RUNNING if newest else statuses[i % len(statuses)]
        objects.append(
            Run(
                project=project,
                name=f"run-{i:05d}",
                status=status,
                author=author,
                created_at=created,
                started_at=created,
                heartbeat_at=created,
                ended_at=None if newest else created + timedelta(seconds=30 + i % 600),
            )
        )
    pks = [run.pk for run in Run.objects.bulk_create(objects, batch_size=2_000)]
    big = pks[-1]

    optimizers = ("adam", "sgd", "adamw")
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor  # psycopg's own cursor, for COPY

        def params():
            for i, pk in enumerate(pks):
                lr, batch = (0.1, 0.01, 0.001, 0.0003)[i % 4], 32 * (1 + i % 4)
                yield (pk, "lr", str(lr), lr)
                yield (pk, "batch_size", str(batch), float(batch))
                yield (pk, "optimizer", optimizers[i % 3], None)
                yield (pk, "seed", str(i), float(i))
                yield (pk, "arch", f"resnet{(18, 34, 50)[i % 3]}", None)

        _copy(cursor, "runs_param", ("run_id", "key", "value", "value_num"), params())
        _copy(
            cursor,
            "runs_tag",
            ("run_id", "key", "value"),
            (
                row
                for i, pk in enumerate(pks)
                for row in ((pk, "team", ("vision", "speech")[i % 2]), (pk, "stage", "sweep"))
            ),
        )

        def summaries():
            stamp = now
            for i, pk in enumerate(pks):
                chosen = names if pk == big else [
                    *COMMON_KEYS,
                    *(pool[(i * 8 + j) % len(pool)] for j in range(SUMMARIES_PER_RUN - 2)),
                ]  # fmt: skip
                for key in chosen:
                    if pk == big and key == BIG_KEY:
                        last, low, high, count = 0.05, 0.05, SPIKE_VALUE, points
                    else:
                        last = round(rng.random(), 6)
                        low, high, count = last / 2, last * 2, 100
                    yield (pk, key, last, max(count - 1, 0), low, high, count, stamp)

        _copy(
            cursor,
            "runs_metricsummary",
            ("run_id", "key", "last", "last_step", "min", "max", "count", "last_timestamp"),
            summaries(),
        )
        spike = SPIKE_STEP if points > SPIKE_STEP else points // 2
        _copy(
            cursor,
            "runs_metricpoint",
            ("run_id", "key", "step", "value", "timestamp"),
            (
                (
                    big,
                    BIG_KEY,
                    step,
                    SPIKE_VALUE if step == spike else 1.0 / (1 + step / 1000) + 0.05,
                    now,
                )
                for step in range(points)
            ),
        )
        wrapper.execute(
            "ANALYZE runs_run, runs_param, runs_tag, runs_metricsummary, runs_metricpoint"
        )
    return Run.objects.get(pk=big)


def measure(*, runs: int, keys: int, points: int, repeat: int, out: Path | None) -> None:
    import re

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from apps.projects.models import Membership, Project, Role
    from apps.runs.models import Run

    note("migrating")
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create(username="bench")
    project = Project.objects.create(slug="bench", name="Bench")
    Membership.objects.create(project=project, user=user, role=Role.ADMIN)
    note(f"seeding {runs:,} runs, {keys:,} keys, {points:,} points")
    started = time.perf_counter()
    big = seed_project(project=project, author=user, runs=runs, keys=keys, points=points)
    seeded = time.perf_counter() - started
    pg = connection.cursor().connection.info.server_version
    emit(
        {
            "bench": "portal_seed",
            "runs": Run.objects.filter(project=project).count(),
            "keys": keys,
            "points": points,
            "seconds": round(seeded, 2),
            "postgres": f"{pg // 10000}.{pg % 10000}",
            "cpus": os.cpu_count(),
        },
        out,
    )

    client = Client()
    client.force_login(user)
    row = re.compile(rb'<input type="checkbox" name="runs" value=')

    def table_check(expected: int):
        def check(response):
            assert response.status_code == 200, response.status_code
            found = len(row.findall(response.content))
            assert found == expected, f"{found} rows, expected {expected}"

        return check

    def page_check(response):
        assert response.status_code == 200, response.status_code
        assert f'data-key="{BIG_KEY}"'.encode() in response.content

    def metrics_check(response):
        assert response.status_code == 200, response.status_code
        assert len(response.json()["results"]) == keys

    def chart_check(response):
        assert response.status_code == 200, response.status_code
        body = response.json()
        assert body["downsampled"] and body["total"] == points, body["total"]
        values = [p["value"] for p in body["results"]]
        assert len(values) <= 1000 and max(values) == SPIKE_VALUE, len(values)

    run_url = f"/projects/bench/runs/{big.public_id}"
    api = f"/api/v1/runs/{big.public_id}"
    cases = [
        ("runs_table", "/projects/bench", table_check(50)),
        (
            "runs_table_filtered",
            "/projects/bench?filter=metrics.%60eval/acc%60+%3E+0.5+and+params.optimizer+%3D+"
            "%27adam%27&order_by=metrics.%60eval/acc%60+DESC",
            table_check(50),
        ),
        ("run_page", run_url, page_check),
        ("run_metrics", f"{api}/metrics", metrics_check),
        ("chart_data", f"{api}/metrics/history?key={BIG_KEY}&max_points=1000", chart_check),
    ]
    for name, url, check in cases:
        note(f"timing {name}")
        record = {"bench": "portal", "page": name, "url": url, "runs": runs, "keys": keys}
        record["points"] = points
        record.update(timed(client, url, repeat, check))
        if name in TARGETS_MS:
            record["target_ms"] = TARGETS_MS[name]
            record["met"] = record["p50_ms"] < TARGETS_MS[name]
        emit(record, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_PORTAL_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="dropped and recreated (BENCH_PORTAL_DATABASE_URL; default %(default)s)",
    )
    parser.add_argument("--runs", type=int, default=env_int("BENCH_PORTAL_RUNS", 10_000))
    parser.add_argument("--keys", type=int, default=1_000, help="distinct metric keys")
    parser.add_argument("--points", type=int, default=200_000, help="points of the big metric")
    parser.add_argument("--repeat", type=int, default=env_int("BENCH_REPEAT", 30))
    add_output_arguments(parser)
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be a PostgreSQL URL (the targets are for PostgreSQL)")
    recreate_database(args.database_url)
    setup_django(args.database_url)
    measure(runs=args.runs, keys=args.keys, points=args.points, repeat=args.repeat, out=args.out)


if __name__ == "__main__":
    main()
