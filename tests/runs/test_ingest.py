"""POST /api/v1/runs/{id}/log: what a batch writes, and what it refuses."""

from __future__ import annotations

import math

import pytest

from apps.runs.models import LogBatch, MetricPoint, MetricSummary, Param, Run, RunStatus
from tests.conftest import points


def log(api, run_id, **body):
    return api.post(f"/api/v1/runs/{run_id}/log", body)


def summary(run_id: str, key: str) -> MetricSummary:
    return MetricSummary.objects.get(run__public_id=run_id, key=key)


def stored_values(run_id: str, key: str) -> dict[int, float | None]:
    rows = MetricPoint.objects.filter(run__public_id=run_id, key=key).values_list("step", "value")
    return dict(rows)


@pytest.mark.django_db
def test_batch_answers_with_counts_per_kind(as_member, run_id):
    response = log(
        as_member,
        run_id,
        batch_id="b1",
        metrics=points("loss", range(3)) + points("acc", range(2)),
        params={"lr": 0.001, "optimizer": "adam"},
        tags={"team": "nlp"},
        summary={"best": 0.9},
        datasets=[{"name": "train", "uri": "data/train"}],
    )
    assert response.status_code == 200
    assert response.json()["stored"] == {
        "metrics": 5,
        "metrics_replaced": 0,
        "metrics_unchanged": 0,
        "params": 2,
        "tags": 1,
        "summary": 1,
        "datasets": 1,
    }


@pytest.mark.django_db
def test_duplicate_batch_id_replays_first_response_and_writes_nothing(as_member, run_id):
    first = log(as_member, run_id, batch_id="same", metrics=points("loss", range(10)))
    again = log(as_member, run_id, batch_id="same", metrics=points("loss", range(10, 20)))
    assert again.status_code == 200
    assert again.json() == first.json()
    assert sorted(stored_values(run_id, "loss")) == list(range(10))
    assert LogBatch.objects.filter(run__public_id=run_id).count() == 1


@pytest.mark.django_db
def test_identical_resend_of_points_under_new_batch_is_a_no_op(as_member, run_id):
    log(as_member, run_id, batch_id="a", metrics=points("loss", range(5)))
    response = log(as_member, run_id, batch_id="b", metrics=points("loss", range(5)))
    assert response.json()["stored"]["metrics"] == 0
    assert response.json()["stored"]["metrics_unchanged"] == 5
    assert summary(run_id, "loss").count == 5


@pytest.mark.django_db
def test_different_value_at_existing_step_replaces_it(as_member, run_id):
    log(as_member, run_id, batch_id="a", metrics=points("loss", range(5)))
    response = log(
        as_member, run_id, batch_id="b", metrics=[{"key": "loss", "value": 42.0, "step": 2}]
    )
    assert response.json()["stored"]["metrics_replaced"] == 1
    assert stored_values(run_id, "loss") == {0: 0.0, 1: 1.0, 2: 42.0, 3: 3.0, 4: 4.0}


@pytest.mark.django_db
def test_replaced_value_recomputes_min_max_last(as_member, run_id):
    log(as_member, run_id, batch_id="a", metrics=points("loss", range(5)))  # 0..4
    log(
        as_member,
        run_id,
        batch_id="b",
        metrics=[
            {"key": "loss", "value": -7.0, "step": 4},  # the last value and the new minimum
        ],
    )
    s = summary(run_id, "loss")
    assert (s.last, s.last_step, s.min, s.max, s.count) == (-7.0, 4, -7.0, 3.0, 5)


@pytest.mark.django_db
def test_replacing_the_maximum_lowers_max(as_member, run_id):
    log(as_member, run_id, batch_id="a", metrics=points("acc", range(5)))
    log(as_member, run_id, batch_id="b", metrics=[{"key": "acc", "value": 0.5, "step": 4}])
    s = summary(run_id, "acc")
    assert (s.max, s.last) == (3.0, 0.5)


@pytest.mark.django_db
def test_out_of_order_steps_keep_last_at_highest_step(as_member, run_id):
    log(as_member, run_id, batch_id="a", metrics=points("loss", [10, 11]))
    log(as_member, run_id, batch_id="b", metrics=points("loss", [3, 2, 1]))
    s = summary(run_id, "loss")
    assert (s.last, s.last_step, s.min, s.max, s.count) == (11.0, 11, 1.0, 11.0, 5)


@pytest.mark.django_db
def test_repeated_key_step_within_one_batch_keeps_the_last(as_member, run_id):
    log(
        as_member,
        run_id,
        batch_id="a",
        metrics=[
            {"key": "loss", "value": 1.0, "step": 0},
            {"key": "loss", "value": 2.0, "step": 0},
        ],
    )
    assert stored_values(run_id, "loss") == {0: 2.0}


@pytest.mark.django_db
def test_non_finite_values_round_trip_exactly(as_member, run_id):
    log(
        as_member,
        run_id,
        batch_id="a",
        metrics=[
            {"key": "x", "value": "NaN", "step": 0},
            {"key": "x", "value": "Infinity", "step": 1},
            {"key": "x", "value": "-Infinity", "step": 2},
            {"key": "x", "value": 1.5, "step": 3},
        ],
    )
    history = as_member.get(f"/api/v1/runs/{run_id}/metrics/history", {"key": "x"}).json()
    assert [p["value"] for p in history["results"]] == ["NaN", "Infinity", "-Infinity", 1.5]


@pytest.mark.django_db
def test_min_max_ignore_nan_and_last_may_be_nan(as_member, run_id):
    log(
        as_member,
        run_id,
        batch_id="a",
        metrics=[
            {"key": "x", "value": 2.0, "step": 0},
            {"key": "x", "value": "NaN", "step": 1},
        ],
    )
    metrics = as_member.get(f"/api/v1/runs/{run_id}/metrics").json()["results"]
    assert metrics == [
        {
            "key": "x",
            "last": "NaN",
            "min": 2.0,
            "max": 2.0,
            "count": 2,
            "last_step": 1,
            "last_timestamp": metrics[0]["last_timestamp"],
        }
    ]


@pytest.mark.django_db
def test_only_nan_leaves_min_and_max_null(as_member, run_id):
    log(as_member, run_id, batch_id="a", metrics=[{"key": "x", "value": "NaN", "step": 0}])
    s = summary(run_id, "x")
    assert (s.min, s.max, s.last, s.count) == (None, None, None, 1)


@pytest.mark.django_db
def test_bare_nan_token_is_400_saying_how_to_send_it(as_member, run_id):
    response = as_member.client.post(
        f"/api/v1/runs/{run_id}/log",
        data='{"batch_id": "a", "metrics": [{"key": "x", "value": NaN, "step": 0}]}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert '"NaN"' in response.json()["error"]["message"]


@pytest.mark.django_db
def test_invalid_item_in_the_middle_writes_nothing(as_member, run_id):
    metrics = points("loss", range(100))
    metrics[50]["value"] = "high"
    response = log(
        as_member, run_id, batch_id="a", metrics=metrics, params={"lr": 1}, tags={"t": "x"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "metrics[50].value"
    assert not MetricPoint.objects.filter(run__public_id=run_id).exists()
    assert not Param.objects.filter(run__public_id=run_id).exists()
    assert not LogBatch.objects.filter(run__public_id=run_id).exists()


@pytest.mark.django_db
def test_param_conflict_rolls_back_the_whole_batch(as_member, run_id):
    log(as_member, run_id, batch_id="a", params={"lr": "0.1"})
    response = log(
        as_member, run_id, batch_id="b", metrics=points("loss", range(3)), params={"lr": "0.2"}
    )
    assert response.status_code == 409
    assert response.json()["error"]["field"] == "params.lr"
    assert not MetricPoint.objects.filter(run__public_id=run_id).exists()
    # The refused batch_id was not recorded: a corrected retry under it is applied.
    retry = log(as_member, run_id, batch_id="b", metrics=points("loss", range(3)))
    assert retry.json()["stored"]["metrics"] == 3


@pytest.mark.django_db
def test_param_relogged_with_same_value_is_accepted(as_member, run_id):
    log(as_member, run_id, batch_id="a", params={"lr": 0.1})
    response = log(as_member, run_id, batch_id="b", params={"lr": 0.1})
    assert response.status_code == 200
    assert response.json()["stored"]["params"] == 0


@pytest.mark.django_db
def test_param_numeric_value_is_kept_as_number(as_member, run_id):
    log(as_member, run_id, batch_id="a", params={"lr": "3e-4", "opt": "adam"})
    params = {p.key: p.value_num for p in Param.objects.filter(run__public_id=run_id)}
    assert params == {"lr": 0.0003, "opt": None}


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["finished", "failed", "killed"])
def test_ended_run_refuses_points_and_params(as_member, run_id, status):
    as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": status})
    for body in ({"metrics": points("loss", [0])}, {"params": {"a": 1}}):
        response = log(as_member, run_id, batch_id=f"late-{len(body)}-{next(iter(body))}", **body)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "conflict"
    assert MetricPoint.objects.filter(run__public_id=run_id).count() == 0
    assert Param.objects.filter(run__public_id=run_id).count() == 0


@pytest.mark.django_db
def test_ended_run_still_takes_tags_and_summary(as_member, run_id):
    as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": "finished"})
    response = log(as_member, run_id, batch_id="late", tags={"k": "v"}, summary={"best": 1})
    assert response.status_code == 200
    run = Run.objects.get(public_id=run_id)
    assert dict(run.tags.values_list("key", "value")) == {"k": "v"}
    assert dict(run.summary_values.values_list("key", "value")) == {"best": 1}


@pytest.mark.django_db
def test_replayed_batch_is_answered_even_after_the_run_ended(as_member, run_id):
    first = log(as_member, run_id, batch_id="a", metrics=points("loss", range(3)))
    as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": "finished"})
    replay = log(as_member, run_id, batch_id="a", metrics=points("loss", range(3)))
    assert replay.status_code == 200
    assert replay.json() == first.json()


@pytest.mark.django_db
def test_log_revives_a_crashed_run_with_nothing_lost(as_member, run_id):
    log(as_member, run_id, batch_id="a", metrics=points("loss", range(3)))
    Run.objects.filter(public_id=run_id).update(status=RunStatus.CRASHED)
    response = log(as_member, run_id, batch_id="b", metrics=points("loss", range(3, 6)))
    assert response.json()["status"] == "RUNNING"
    assert Run.objects.get(public_id=run_id).status == RunStatus.RUNNING
    assert sorted(stored_values(run_id, "loss")) == list(range(6))


@pytest.mark.django_db
def test_timestamps_default_to_now_and_accept_iso(as_member, run_id):
    log(
        as_member,
        run_id,
        batch_id="a",
        metrics=[
            {"key": "x", "value": 1, "step": 0, "timestamp": "2026-01-02T03:04:05Z"},
        ],
    )
    point = MetricPoint.objects.get(run__public_id=run_id, key="x")
    assert point.timestamp.isoformat() == "2026-01-02T03:04:05+00:00"


@pytest.mark.django_db
def test_key_is_nfc_normalised(as_member, run_id):
    decomposed = "cafe\u0301/loss"
    log(as_member, run_id, batch_id="a", metrics=[{"key": decomposed, "value": 1, "step": 0}])
    assert MetricPoint.objects.get(run__public_id=run_id).key == "caf\u00e9/loss"


@pytest.mark.django_db
def test_large_values_are_float64(as_member, run_id):
    log(
        as_member,
        run_id,
        batch_id="a",
        metrics=[{"key": "x", "value": 1e308, "step": 0}, {"key": "x", "value": 5e-324, "step": 1}],
    )
    assert stored_values(run_id, "x") == {0: 1e308, 1: 5e-324}
    assert not math.isinf(summary(run_id, "x").max)
