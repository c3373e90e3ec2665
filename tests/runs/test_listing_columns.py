"""A runs listing without ``columns`` stays small however much a run records: each run
carries its first 100 params, metric summaries and tags by key, and ``truncated`` says
which kinds hold more. ``columns`` still returns exactly what it names."""

from __future__ import annotations

import json

import pytest

from apps.runs.columns import DEFAULT_KEYS_PER_KIND
from tests.conftest import points

URL = "/api/v1/projects/vision/runs"
NOTHING_CUT = {"params": False, "metrics": False, "tags": False}


@pytest.fixture
def crowded(as_member, make_run) -> str:
    """A run with 1,500 params (p0000…p1499), 150 metrics and 100 tags."""
    run_id = make_run(name="crowded")
    for start in range(0, 1500, 750):
        params = {f"p{i:04d}": f"value {i}" for i in range(start, start + 750)}
        body = {"batch_id": f"p{start}", "params": params}
        assert as_member.post(f"/api/v1/runs/{run_id}/log", body).status_code == 200
    metrics = [point for i in range(150) for point in points(f"m{i:03d}", [0])]
    tags = {f"t{i:03d}": "x" for i in range(100)}
    body = {"batch_id": "mt", "metrics": metrics, "tags": tags}
    assert as_member.post(f"/api/v1/runs/{run_id}/log", body).status_code == 200
    return run_id


@pytest.mark.django_db
def test_a_listed_run_carries_its_first_keys_and_says_what_was_cut(as_member, crowded):
    assert DEFAULT_KEYS_PER_KIND == 100
    (run,) = as_member.get(URL).json()["results"]
    assert list(run["params"]) == [f"p{i:04d}" for i in range(100)]
    assert list(run["metrics"]) == [f"m{i:03d}" for i in range(100)]
    assert list(run["tags"]) == [f"t{i:03d}" for i in range(100)]  # exactly 100: all
    assert run["truncated"] == {"params": True, "metrics": True, "tags": False}


@pytest.mark.django_db
def test_a_listed_run_does_not_grow_with_its_params(as_member, make_run):
    run_id = make_run(name="growing", params={f"p{i:04d}": "v" for i in range(101)})
    before = listed(as_member)
    for start in range(101, 5000, 1000):
        params = {f"p{i:04d}": "v" for i in range(start, min(start + 1000, 5000))}
        body = {"batch_id": f"p{start}", "params": params}
        assert as_member.post(f"/api/v1/runs/{run_id}/log", body).status_code == 200
    after = listed(as_member)
    # The same run at 101 params and at 5,000: a page of 100 runs is bounded by 100 x
    # 100 params, where it grew to 15 MB with 5,000 params each.
    assert after == before
    assert len(json.dumps(after)) < 5_000


def listed(api) -> dict:
    (run,) = api.get(URL).json()["results"]
    del run["heartbeat_at"]  # each batch moves it
    return run


@pytest.mark.django_db
def test_columns_reach_any_key_and_cut_nothing(as_member, crowded):
    (run,) = as_member.get(URL, {"columns": "params.p1499,metrics.m149"}).json()["results"]
    assert (run["params"], list(run["metrics"]), run["tags"]) == (
        {"p1499": "value 1499"},
        ["m149"],
        {},
    )
    assert run["truncated"] == NOTHING_CUT


@pytest.mark.django_db
def test_the_run_itself_has_everything(as_member, crowded):
    run = as_member.get(f"/api/v1/runs/{crowded}").json()
    assert (len(run["params"]), len(run["metrics"]), len(run["tags"])) == (1500, 150, 100)
    assert "truncated" not in run


@pytest.mark.django_db
def test_a_small_run_is_listed_whole(as_member, make_run):
    make_run(name="small", params={"lr": 0.1}, tags={"team": "a"})
    (run,) = as_member.get(URL).json()["results"]
    assert (run["params"], run["tags"], run["truncated"]) == (
        {"lr": "0.1"},
        {"team": "a"},
        NOTHING_CUT,
    )
