"""GET /api/v1/runs/{id}/metrics/history: full series, pages, zoom, downsampling."""

from __future__ import annotations

import pytest

from tests.conftest import points


def history(api, run_id, **params):
    return api.get(f"/api/v1/runs/{run_id}/metrics/history", params)


@pytest.fixture
def series(as_member, run_id):
    """1,000 steps of a gentle curve with a spike up at 500 and down at 700."""

    def value(step: int) -> float:
        return {500: 1000.0, 700: -1000.0}.get(step, float(step % 10))

    as_member.post(
        f"/api/v1/runs/{run_id}/log",
        {"batch_id": "s", "metrics": points("train/loss a", range(1000), value)},
    )
    return run_id


@pytest.mark.django_db
def test_full_series_in_step_order(as_member, series):
    body = history(as_member, series, key="train/loss a", page_size=10000).json()
    assert [p["step"] for p in body["results"]] == list(range(1000))
    assert (body["downsampled"], body["next"]) == (False, None)


@pytest.mark.django_db
def test_pages_continue_with_next(as_member, series):
    steps, url = [], None
    first = history(as_member, series, key="train/loss a", page_size=300).json()
    steps += [p["step"] for p in first["results"]]
    url = first["next"]
    while url:
        page = as_member.get(url).json()
        steps += [p["step"] for p in page["results"]]
        url = page["next"]
    assert steps == list(range(1000))


@pytest.mark.django_db
def test_downsampling_keeps_spikes_and_last_point(as_member, series):
    body = history(as_member, series, key="train/loss a", max_points=21).json()
    values = {p["step"]: p["value"] for p in body["results"]}
    assert body["downsampled"] is True
    assert len(body["results"]) <= 21
    assert values[500] == 1000.0
    assert values[700] == -1000.0
    assert max(values) == 999
    assert [p["step"] for p in body["results"]] == sorted(values)


@pytest.mark.django_db
def test_a_downsampled_point_keeps_its_own_timestamp(as_member, run_id):
    # The run page's time axes (since the start, wall clock) read each point's timestamp.
    metrics = [
        {"key": "loss", "value": float(s % 7), "step": s, "timestamp": f"2026-01-01T10:{s:02d}:00Z"}
        for s in range(60)
    ]
    as_member.post(f"/api/v1/runs/{run_id}/log", {"batch_id": "t", "metrics": metrics})
    body = history(as_member, run_id, key="loss", max_points=10).json()
    assert body["downsampled"] is True
    assert [p["timestamp"] for p in body["results"]] == [
        f"2026-01-01T10:{p['step']:02d}:00Z" for p in body["results"]
    ]


@pytest.mark.django_db
def test_downsampling_short_series_returns_it_whole(as_member, series):
    body = history(as_member, series, key="train/loss a", max_points=5000).json()
    assert (len(body["results"]), body["downsampled"]) == (1000, False)


@pytest.mark.django_db
def test_zoom_range_and_live_refresh(as_member, series):
    zoom = history(as_member, series, key="train/loss a", min_step=100, max_step=109).json()
    assert [p["step"] for p in zoom["results"]] == list(range(100, 110))
    tail = history(as_member, series, key="train/loss a", after_step=995).json()
    assert [p["step"] for p in tail["results"]] == [996, 997, 998, 999]


@pytest.mark.django_db
def test_zoomed_downsample_covers_only_the_range(as_member, series):
    body = history(
        as_member, series, key="train/loss a", min_step=400, max_step=599, max_points=11
    ).json()
    steps = [p["step"] for p in body["results"]]
    assert min(steps) >= 400 and max(steps) == 599
    assert 500 in steps


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "key"),
        ({"key": "x", "max_points": 2}, "max_points"),
        ({"key": "x", "max_points": 3}, "max_points"),  # first, last and a bucket need 4
        ({"key": "x", "max_points": 10001}, "max_points"),
        ({"key": "x", "page_size": 0}, "page_size"),
        ({"key": "x", "min_step": "a"}, "min_step"),
        ({"key": "../x"}, "key"),
    ],
)
def test_bad_history_parameters_name_the_field(as_member, run_id, params, field):
    response = history(as_member, run_id, **params)
    assert (response.status_code, response.json()["error"]["field"]) == (400, field)


@pytest.mark.django_db
def test_unknown_key_is_an_empty_series(as_member, run_id):
    body = history(as_member, run_id, key="never").json()
    assert body["results"] == []


@pytest.mark.django_db
def test_listing_shows_the_same_metric_summaries_as_the_run(as_member, run_id):
    as_member.post(
        f"/api/v1/runs/{run_id}/log",
        {
            "batch_id": "mix",
            "metrics": [
                {"key": "a", "value": 1.5, "step": 0, "timestamp": "2026-01-02T03:04:05Z"},
                {
                    "key": "a",
                    "value": "Infinity",
                    "step": 1,
                    "timestamp": "2026-01-02T03:04:05.120000Z",
                },
                {"key": "b", "value": "NaN", "step": 0},
                {"key": "c", "value": "-Infinity", "step": 3},
                {"key": "c", "value": 0.1, "step": 2},
            ],
        },
    )
    detail = as_member.get(f"/api/v1/runs/{run_id}").json()["metrics"]
    listing = as_member.get("/api/v1/projects/vision/runs").json()["results"][0]["metrics"]
    assert listing == detail
    assert (detail["a"]["last"], detail["a"]["max"], detail["a"]["last_timestamp"]) == (
        "Infinity",
        "Infinity",
        "2026-01-02T03:04:05.120000Z",
    )
    assert (detail["b"]["last"], detail["b"]["min"]) == ("NaN", None)
    assert (detail["c"]["last"], detail["c"]["min"], detail["c"]["max"]) == (
        "-Infinity",
        "-Infinity",
        0.1,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("arriving", [range(1000, 1300), range(-300, 0)])
def test_points_arriving_mid_answer_do_not_overflow_max_points(
    as_member, series, monkeypatch, arriving
):
    """A live run gains points while its chart is downsampled: here 300 more steps land
    right after the step range is read, as a concurrent log batch would, after the
    range or (a resumed run logging earlier steps) before it."""
    from django.db.models.query import QuerySet

    from apps.runs.models import MetricPoint, Run

    run = Run.objects.get(public_id=series)
    template = MetricPoint.objects.filter(run=run, key="train/loss a").first()
    real_aggregate = QuerySet.aggregate
    arrived = []

    def aggregate_then_ingest(self, *args, **kwargs):
        result = real_aggregate(self, *args, **kwargs)
        if self.model is MetricPoint and not arrived:
            arrived.append(True)
            MetricPoint.objects.bulk_create(
                MetricPoint(
                    run=run,
                    key=template.key,
                    step=step,
                    value=float(step),
                    timestamp=template.timestamp,
                )
                for step in arriving
            )
        return result

    monkeypatch.setattr(QuerySet, "aggregate", aggregate_then_ingest)
    body = history(as_member, series, key="train/loss a", max_points=21).json()
    assert arrived == [True]
    # The answer is the series as it was when its range was read: its total, its last
    # step, and at most max_points points (fewer where a bucket's low and high coincide).
    assert body["total"] == 1000
    assert (min(p["step"] for p in body["results"]), max(p["step"] for p in body["results"])) == (
        0,
        999,
    )
    assert len(body["results"]) <= 21


# ---- steps over the whole signed 64-bit range -----------------------------------------

LOWEST, HIGHEST = -(2**63), 2**63 - 1


@pytest.fixture
def extremes(as_member, run_id):
    """202 points: the lowest and highest steps a run can log, and 200 steps spread
    between them. The first and last values are neither the series' minimum (-50 at
    step 0) nor its maximum (99 at 37 * 2**56)."""
    steps = [LOWEST, *(i * 2**56 for i in range(-100, 100)), HIGHEST]

    def value(step: int) -> float:
        special = {LOWEST: 0.5, HIGHEST: 0.25, 0: -50.0, 37 * 2**56: 99.0}
        return special.get(step, (step // 2**56 % 7) / 10)

    response = as_member.post(
        f"/api/v1/runs/{run_id}/log", {"batch_id": "wide", "metrics": points("w", steps, value)}
    )
    assert response.json()["stored"]["metrics"] == 202
    return run_id


def assert_extremes_kept(body: dict, max_points: int) -> None:
    results = body["results"]
    steps = [p["step"] for p in results]
    values = {p["step"]: p["value"] for p in results}
    assert (body["downsampled"], body["total"]) == (True, 202)
    assert len(results) <= max_points
    assert steps == sorted(set(steps))
    assert (steps[0], values[LOWEST]) == (LOWEST, 0.5)
    assert (steps[-1], values[HIGHEST]) == (HIGHEST, 0.25)
    assert (min(values.values()), values[0]) == (-50.0, -50.0)
    assert (max(values.values()), values[37 * 2**56]) == (99.0, 99.0)


@pytest.mark.django_db
@pytest.mark.parametrize("max_points", [4, 5, 10, 101, 201])
def test_downsampling_over_the_whole_64_bit_range_keeps_first_last_min_and_max(
    as_member, extremes, max_points
):
    response = history(as_member, extremes, key="w", max_points=max_points)
    assert response.status_code == 200, response.content
    assert_extremes_kept(response.json(), max_points)


@pytest.mark.django_db
def test_downsampling_spreads_buckets_over_the_whole_range(as_member, extremes):
    body = history(as_member, extremes, key="w", max_points=42).json()
    steps = [p["step"] for p in body["results"]]
    # 20 buckets of 2**64 / 20 steps each: every tenth of the range holds a kept point.
    tenths = {(step - LOWEST) * 10 // 2**64 for step in steps}
    assert tenths == set(range(10))


@pytest.mark.django_db
def test_a_zoom_to_the_top_of_the_range_downsamples(as_member, extremes):
    body = history(
        as_member, extremes, key="w", min_step=2**62, max_step=HIGHEST, max_points=4
    ).json()
    steps = [p["step"] for p in body["results"]]
    assert (body["downsampled"], steps[0], steps[-1]) == (True, 64 * 2**56, HIGHEST)
    assert len(steps) <= 4


@pytest.mark.django_db
def test_a_share_link_downsamples_the_whole_range_too(as_member, extremes):
    link = as_member.post(f"/api/v1/runs/{extremes}/share-links", {"expires_in": 3600}).json()
    token = link["url"].rsplit("/", 1)[1]
    response = as_member.client.get(f"/s/{token}/metrics/history", {"key": "w", "max_points": 10})
    assert response.status_code == 200, response.content
    assert_extremes_kept(response.json(), 10)
    api = history(as_member, extremes, key="w", max_points=10).json()
    assert response.json()["results"] == api["results"]
