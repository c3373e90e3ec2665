"""Concurrent writers against PostgreSQL (real threads, real transactions)."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import connection, connections

from apps.runs.models import LogBatch, MetricPoint, MetricSummary
from tests.conftest import Api, points
from tests.pg_locks import pg_test_dsn, wait_for, waiting_backends

pytestmark = pytest.mark.postgres


def _client(api: Api) -> Api:
    # One client per thread: Django's test client serialises requests made through
    # one instance, which would hide the concurrency under test.
    return Api(api.secret)


def _in_thread(target, results: list, index: int):
    def run():
        try:
            results[index] = target()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_concurrent_writers_to_one_run_store_everything(as_member, run_id):
    writers, batches, per_batch = 2, 5, 400
    results: list = [None] * writers

    def writer(index: int):
        def send():
            api = _client(as_member)
            statuses = []
            for b in range(batches):
                start = (b * writers + index) * per_batch
                body = {
                    "batch_id": f"w{index}-{b}",
                    "metrics": points("loss", range(start, start + per_batch))
                    + points("acc", range(start, start + per_batch), lambda s: -s),
                }
                statuses.append(api.post(f"/api/v1/runs/{run_id}/log", body).status_code)
            return statuses

        return send

    threads = [_in_thread(writer(i), results, i) for i in range(writers)]
    for thread in threads:
        thread.join()
    assert results == [[200] * batches] * writers
    total = writers * batches * per_batch
    assert MetricPoint.objects.filter(run__public_id=run_id, key="loss").count() == total
    loss = MetricSummary.objects.get(run__public_id=run_id, key="loss")
    acc = MetricSummary.objects.get(run__public_id=run_id, key="acc")
    assert (loss.count, loss.min, loss.max, loss.last, loss.last_step) == (
        total,
        0.0,
        float(total - 1),
        float(total - 1),
        total - 1,
    )
    assert (acc.count, acc.min, acc.max, acc.last) == (
        total,
        -float(total - 1),
        0.0,
        -float(total - 1),
    )


def test_duplicate_batch_in_flight_is_written_once(as_member, run_id):
    body = {"batch_id": "dup", "metrics": points("loss", range(1000))}
    results: list = [None, None]
    with psycopg.connect(pg_test_dsn(), autocommit=False) as blocker:
        # Hold the run's row lock so the first attempt stops inside its transaction,
        # after it has claimed the batch_id.
        blocker.execute("SELECT 1 FROM runs_run WHERE public_id = %s FOR UPDATE", (run_id,))
        first = _in_thread(
            lambda: _client(as_member).post(f"/api/v1/runs/{run_id}/log", body), results, 0
        )
        wait_for(lambda: waiting_backends(blocker) == 1, "the first writer to block")
        second = _in_thread(
            lambda: _client(as_member).post(f"/api/v1/runs/{run_id}/log", body), results, 1
        )
        wait_for(lambda: waiting_backends(blocker) == 2, "the writers to block")
        blocker.rollback()
    first.join()
    second.join()
    assert [r.status_code for r in results] == [200, 200]
    assert results[0].json() == results[1].json()
    assert results[0].json()["stored"]["metrics"] == 1000
    assert MetricPoint.objects.filter(run__public_id=run_id).count() == 1000
    assert LogBatch.objects.filter(run__public_id=run_id).count() == 1
    assert MetricSummary.objects.get(run__public_id=run_id, key="loss").count == 1000


def test_postgres_bulk_path_issues_the_same_statements_for_any_batch_size(
    as_member, run_id, settings
):
    from django.test.utils import CaptureQueriesContext

    # A first batch announces new metrics (run.metrics_updated, dispatched in-process);
    # the measured ones come after it, inside the announcement interval.
    settings.KIROKU_METRICS_EVENT_INTERVAL_SECONDS = 3600
    warmup = {"batch_id": "warmup", "metrics": points("m-warmup", range(1))}
    assert as_member.post(f"/api/v1/runs/{run_id}/log", warmup).status_code == 200
    counts = []
    for batch, size in (("small", 10), ("large", 10_000)):
        with CaptureQueriesContext(connection) as captured:
            response = as_member.post(
                f"/api/v1/runs/{run_id}/log",
                {"batch_id": batch, "metrics": points(f"m-{batch}", range(size))},
            )
        assert response.json()["stored"]["metrics"] == size
        statements = [q["sql"] for q in captured.captured_queries]
        # Points go through COPY on the raw connection, never a per-point INSERT.
        assert not any('INSERT INTO "runs_metricpoint"' in sql for sql in statements)
        counts.append(len(statements))
    assert counts[0] == counts[1]
    assert MetricPoint.objects.filter(run__public_id=run_id).count() == 10_011


def test_concurrent_batches_cannot_pass_the_per_run_param_cap_together(as_member, run_id):
    from apps.runs import limits
    from apps.runs.models import Param

    for start in range(0, 9_600, 1000):
        keys = range(start, min(start + 1000, 9_600))
        body = {"batch_id": f"fill-{start}", "params": {f"k{i}": i for i in keys}}
        assert as_member.post(f"/api/v1/runs/{run_id}/log", body).status_code == 200
    # Each batch fits alone (9,600 + 300); both together would pass 10,000.
    bodies = [
        {"batch_id": f"late-{w}", "params": {f"w{w}-{i}": i for i in range(300)}} for w in (0, 1)
    ]
    results: list = [None, None]
    with psycopg.connect(pg_test_dsn(), autocommit=False) as blocker:
        # Both writers queue on the run's row lock, then count one after the other.
        blocker.execute("SELECT 1 FROM runs_run WHERE public_id = %s FOR UPDATE", (run_id,))
        threads = [
            _in_thread(
                lambda w=w: _client(as_member).post(f"/api/v1/runs/{run_id}/log", bodies[w]),
                results,
                w,
            )
            for w in (0, 1)
        ]
        wait_for(lambda: waiting_backends(blocker) == 2, "both writers to block")
        blocker.rollback()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in results) == [200, 400]
    refused = next(r for r in results if r.status_code == 400).json()["error"]
    assert refused["field"] == "params"
    assert Param.objects.filter(run__public_id=run_id).count() == 9_900
    assert limits.MAX_PARAMS_PER_RUN == 10_000
