"""The portal at scale on PostgreSQL: 10,000 runs, 1,000 metric keys, and a 200,000-point
metric. Only that the answers are right; how fast they come is bench/portal.py's job.

The data come from the benchmark's own seeding (``bench.portal.seed_project``), so the
benchmark's workload is checked here too.
"""

from __future__ import annotations

import re

import pytest

from bench.portal import BIG_KEY, SPIKE_STEP, SPIKE_VALUE, seed_project
from tests.portal.runs_table_helpers import headers, more

pytestmark = pytest.mark.postgres

RUNS = 10_000
KEYS = 1_000
POINTS = 200_000


@pytest.fixture
def big_run(project, member):
    return seed_project(project=project, author=member, runs=RUNS, keys=KEYS, points=POINTS)


def test_a_project_of_10000_runs_at_scale(portal_as, as_viewer, viewer, big_run):
    table = portal_as(viewer).get("/projects/vision")
    assert table.status_code == 200
    html = table.content.decode()
    rows = re.findall(r'<a href="/projects/vision/runs/[0-9a-f]{32}">([^<]*)</a>', html)
    assert rows == [f"run-{i:05d}" for i in range(RUNS - 1, RUNS - 51, -1)]
    assert 'rel="next"' in html
    # The defaults come from a sample of the result set, not from the newest run (which
    # has all 1,000 keys): the two keys every run has lead, and the five params all vary.
    columns = headers(html)
    assert columns[:2] == ["eval/acc", "train/loss"] and len(columns) == 8 + 5
    assert columns[8:] == [f"param.{k}" for k in ("arch", "batch_size", "lr", "optimizer", "seed")]
    assert more(html) == f"+{KEYS - 8} more"

    page = portal_as(viewer).get(f"/projects/vision/runs/{big_run.public_id}")
    assert page.status_code == 200
    assert page.content.decode().count('<div class="chart" data-key="') == KEYS

    chart = as_viewer.get(
        f"/api/v1/runs/{big_run.public_id}/metrics/history",
        {"key": BIG_KEY, "max_points": 1000},
    )
    assert chart.status_code == 200
    body = chart.json()
    assert (body["downsampled"], body["total"]) == (True, POINTS)
    steps = [p["step"] for p in body["results"]]
    assert len(steps) <= 1000
    assert steps == sorted(steps) and (steps[0], steps[-1]) == (0, POINTS - 1)
    top = max(body["results"], key=lambda p: p["value"])
    assert (top["step"], top["value"]) == (SPIKE_STEP, SPIKE_VALUE)
