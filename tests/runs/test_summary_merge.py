"""The metric summary merge is written twice (apps/runs/ingest.py): in SQL, in the
statement that upserts the staged points on PostgreSQL, and in Python for the ORM
path. The same batches through both leave the same summaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from apps.runs.ingest import points_ingest_copy, points_ingest_orm
from apps.runs.models import MetricSummary, Run
from apps.runs.validation import PointIn

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NAN, INF = float("nan"), float("inf")
LOWEST, HIGHEST = -(2**63), 2**63 - 1

# Each case: batches, each a list of (key, step, value), applied in order.
CASES = {
    "a first batch": [[("loss", s, 1.0 / (s + 1)) for s in range(5)]],
    "a batch after another": [
        [("loss", s, float(s)) for s in range(3)],
        [("loss", s, float(-s)) for s in range(3, 6)],
    ],
    "earlier steps arriving later keep last at the highest step": [
        [("loss", 5, 0.5), ("loss", 6, 0.6)],
        [("loss", 1, 9.0), ("loss", 2, -9.0)],
    ],
    "a step between the ones held": [
        [("acc", 0, 0.1), ("acc", 10, 0.9)],
        [("acc", 5, 0.5)],
    ],
    "NaN and infinities": [
        [("x", 0, NAN), ("x", 1, INF), ("x", 2, -INF)],
        [("x", 3, 1.0), ("only-nan", 0, NAN)],
    ],
    "NaN at the highest step": [
        [("x", 0, 1.0)],
        [("x", 1, NAN)],
    ],
    "an identical resend changes nothing": [
        [("loss", 0, 1.0), ("loss", 1, 2.0)],
        [("loss", 0, 1.0), ("loss", 1, 2.0)],
    ],
    "a replaced value is recomputed": [
        [("loss", s, float(s)) for s in range(4)],
        [("loss", 3, -1.0)],
    ],
    "a replaced value with new points in the same batch": [
        [("loss", s, float(s)) for s in range(4)],
        [("loss", 2, 100.0), ("loss", 4, 4.0)],
    ],
    "one key replaced beside one merged": [
        [("a", 0, 1.0), ("b", 0, 1.0)],
        [("a", 0, 2.0), ("b", 1, 3.0)],
    ],
    "a replaced NaN": [
        [("x", 0, NAN), ("x", 1, 1.0)],
        [("x", 0, 5.0)],
    ],
    "the extreme steps": [
        [("s", HIGHEST, 1.0), ("s", 0, 2.0)],
        [("s", LOWEST, 3.0)],
    ],
}


def _apply(ingest, project, batches) -> tuple[list, dict]:
    """Each batch through ``ingest`` in its own transaction, as run_log_batch does.
    Returns what each batch did (inserted, replaced per key) and the summaries."""
    run = Run.objects.create(project=project, name=ingest.__name__)
    did = []
    for number, batch in enumerate(batches):
        points = [
            PointIn(
                key=key, step=step, value=value, timestamp=T0 + timedelta(hours=number, seconds=i)
            )
            for i, (key, step, value) in enumerate(batch)
        ]
        with transaction.atomic():
            stats = ingest(run_id=run.pk, points=points)
        did.append(
            {key: (s.inserted, s.replaced) for key, s in stats.items() if s.inserted or s.replaced}
        )
    summaries = {
        row.key: (row.last, row.last_step, row.min, row.max, row.count, row.last_timestamp)
        for row in MetricSummary.objects.filter(run=run)
    }
    return did, summaries


@pytest.mark.parametrize("batches", list(CASES.values()), ids=list(CASES))
def test_the_sql_and_python_summary_merges_agree(project, batches):
    in_sql = _apply(points_ingest_copy, project, batches)
    in_python = _apply(points_ingest_orm, project, batches)
    assert in_sql[1], "every case leaves summaries"
    assert in_sql == in_python
