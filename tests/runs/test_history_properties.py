"""Properties of the downsampled metric history (apps/runs/history.py over
selectors.run_metric_history), for any series — steps anywhere in the signed 64-bit
range, values with NaN and ±Infinity — and any ``max_points``: the answer holds at most
``max_points`` of the series' own points in step order, the first and the last among
them, and the series' lowest and highest values; a series that fits is answered whole.
"""

from __future__ import annotations

import itertools
import math
import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from apps.runs.history import metric_history_answer
from apps.runs.models import Run
from apps.runs.selectors import MIN_DOWNSAMPLED_POINTS

pytestmark = pytest.mark.django_db

SETTINGS = settings(
    max_examples=80,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
STEP_MIN, STEP_MAX = -(2**63), 2**63 - 1
_keys = itertools.count()

steps = st.one_of(
    st.integers(STEP_MIN, STEP_MAX),
    st.integers(-50, 50),
    st.sampled_from([STEP_MIN, STEP_MIN + 1, -1, 0, 1, STEP_MAX - 1, STEP_MAX]),
)
values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["NaN", "Infinity", "-Infinity", 0.0, 1.0, -1.0]),
)
series_of = st.dictionaries(steps, values, max_size=60)


def _order(value: float | str) -> float | None:
    """A value's place among the others; NaN has none."""
    return {"NaN": None, "Infinity": math.inf, "-Infinity": -math.inf}.get(value, value)


@SETTINGS
@given(series=series_of, max_points=st.integers(MIN_DOWNSAMPLED_POINTS, 40))
@example(series={STEP_MIN: 1.0, 0: "NaN", STEP_MAX: -1.0, 5: 7.0, 6: "Infinity"}, max_points=4)
@example(series=dict.fromkeys(range(100), "NaN"), max_points=5)
@example(series={s: float(s % 7) for s in range(STEP_MAX - 99, STEP_MAX + 1)}, max_points=9)
def test_a_downsampled_history_keeps_its_promises(as_member, run_id, series, max_points):
    key = f"k{next(_keys)}"
    batch = [{"key": key, "step": s, "value": v} for s, v in series.items()]
    logged = as_member.post(
        f"/api/v1/runs/{run_id}/log", {"batch_id": uuid.uuid4().hex, "metrics": batch}
    )
    assert logged.status_code == 200, logged.json()
    run = Run.objects.get(public_id=run_id)
    params = {"key": key, "max_points": str(max_points)}
    answer = metric_history_answer(run=run, params=params, path="/h")

    got = [(p["step"], p["value"]) for p in answer["results"]]
    assert len(got) <= max_points
    assert answer["total"] == len(series) and answer["next"] is None
    assert [s for s, _ in got] == sorted({s for s, _ in got})
    # Each point is the series' own: non-finite values are answered as the strings
    # they were sent as.
    assert all(s in series and series[s] == v for s, v in got)
    if len(series) <= max_points:
        assert not answer["downsampled"] and len(got) == len(series)
    if series:
        assert got[0][0] == min(series) and got[-1][0] == max(series)
    ordered = [o for o in map(_order, series.values()) if o is not None]
    kept = [o for o in (_order(v) for _, v in got) if o is not None]
    if ordered:
        assert min(ordered) in kept and max(ordered) in kept
