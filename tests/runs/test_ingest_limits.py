"""Every ingestion limit, at the limit and one past it."""

from __future__ import annotations

import json

import pytest

from apps.core.parsers import MAX_BODY_BYTES
from apps.runs import limits
from apps.runs.models import MetricPoint, Tag
from tests.conftest import points


def log(api, run_id, **body):
    return api.post(f"/api/v1/runs/{run_id}/log", {"batch_id": "limit", **body})


def error(response) -> tuple[int, str | None]:
    return response.status_code, response.json()["error"]["field"]


@pytest.mark.django_db
def test_metric_points_at_the_limit_are_stored(as_member, run_id):
    response = log(as_member, run_id, metrics=points("m", range(limits.MAX_METRICS_PER_BATCH)))
    assert response.json()["stored"]["metrics"] == 10_000
    stored = MetricPoint.objects.filter(run__public_id=run_id, key="m")
    assert sorted(stored.values_list("step", flat=True)) == list(range(10_000))


@pytest.mark.django_db
def test_metric_points_past_the_limit_are_refused(as_member, run_id):
    response = log(as_member, run_id, metrics=points("m", range(limits.MAX_METRICS_PER_BATCH + 1)))
    assert error(response) == (400, "metrics")
    assert "at most 10000" in response.json()["error"]["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "limit"),
    [
        ("params", limits.MAX_PARAMS_PER_BATCH),
        ("tags", limits.MAX_TAGS_PER_BATCH),
        ("summary", limits.MAX_SUMMARY_PER_BATCH),
    ],
)
def test_mapping_at_the_limit_is_accepted(as_member, run_id, kind, limit):
    response = log(as_member, run_id, **{kind: {f"k{i}": i for i in range(limit)}})
    assert response.json()["stored"][kind] == limit


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "limit"),
    [
        ("params", limits.MAX_PARAMS_PER_BATCH),
        ("tags", limits.MAX_TAGS_PER_BATCH),
        ("summary", limits.MAX_SUMMARY_PER_BATCH),
    ],
)
def test_mapping_past_the_limit_is_refused(as_member, run_id, kind, limit):
    response = log(as_member, run_id, **{kind: {f"k{i}": i for i in range(limit + 1)}})
    assert error(response) == (400, kind)
    assert f"at most {limit}" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_key_of_250_characters_is_accepted(as_member, run_id):
    response = log(as_member, run_id, metrics=points("k" * 250, [0]))
    assert response.status_code == 200


@pytest.mark.django_db
def test_key_of_251_characters_is_refused(as_member, run_id):
    response = log(as_member, run_id, metrics=points("k" * 251, [0]))
    assert error(response) == (400, "metrics[0].key")
    assert "1 to 250" in response.json()["error"]["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key", ["", "a..b", "/abs", "semi;colon", "quote'", "back\\slash", "new\nline", "tab\t"]
)
def test_bad_keys_are_refused(as_member, run_id, key):
    response = log(as_member, run_id, metrics=points(key, [0]))
    assert error(response) == (400, "metrics[0].key")


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["train/loss", "eval acc", "a-b_c.d", "日本語/損失", "x/1"])
def test_good_keys_are_accepted(as_member, run_id, key):
    response = log(as_member, run_id, metrics=points(key, [0]))
    assert response.json()["stored"]["metrics"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "limit"),
    [
        ("params", limits.MAX_PARAM_VALUE_LENGTH),
        ("tags", limits.MAX_TAG_VALUE_LENGTH),
    ],
)
def test_value_at_the_length_limit_is_accepted(as_member, run_id, kind, limit):
    response = log(as_member, run_id, **{kind: {"v": "x" * limit}})
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "limit"),
    [
        ("params", limits.MAX_PARAM_VALUE_LENGTH),
        ("tags", limits.MAX_TAG_VALUE_LENGTH),
    ],
)
def test_value_past_the_length_limit_is_refused(as_member, run_id, kind, limit):
    response = log(as_member, run_id, **{kind: {"v": "x" * (limit + 1)}})
    assert error(response) == (400, f"{kind}.v")
    assert str(limit) in response.json()["error"]["message"]


def _body_of_size(size: int) -> bytes:
    body = json.dumps({"batch_id": "size", "tags": {"pad": ""}}).encode()
    padding = size - len(body)
    return json.dumps(
        {
            "batch_id": "size",
            "tags": {"pad": ""},
            "summary": {"pad": "x" * (padding - len(', "summary": {"pad": ""}'))},
        }
    ).encode()


@pytest.mark.django_db
def test_body_of_exactly_4_mib_is_read(as_member, run_id):
    body = _body_of_size(MAX_BODY_BYTES)
    assert len(body) == MAX_BODY_BYTES
    response = as_member.client.post(
        f"/api/v1/runs/{run_id}/log", data=body, content_type="application/json"
    )
    # Read and parsed; the one summary value is then over its own 64 KiB limit.
    assert error(response) == (400, "summary.pad")


@pytest.mark.django_db
def test_body_past_4_mib_is_413_before_parsing(as_member, run_id):
    body = _body_of_size(MAX_BODY_BYTES + 1)
    response = as_member.client.post(
        f"/api/v1/runs/{run_id}/log", data=body, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"key": "x", "value": 1}, "metrics[0].step"),
        ({"key": "x", "value": 1, "step": 1.5}, "metrics[0].step"),
        ({"key": "x", "value": True, "step": 0}, "metrics[0].value"),
        ({"key": "x", "value": "nan", "step": 0}, "metrics[0].value"),
        ({"key": "x", "step": 0}, "metrics[0].value"),
        ({"value": 1, "step": 0}, "metrics[0].key"),
        ({"key": "x", "value": 1, "step": 2**63}, "metrics[0].step"),
        ({"key": "x", "value": 1, "step": 0, "timestamp": "yesterday"}, "metrics[0].timestamp"),
    ],
)
def test_bad_metric_items_name_their_field(as_member, run_id, item, field):
    assert error(log(as_member, run_id, metrics=[item])) == (400, field)


@pytest.mark.django_db
@pytest.mark.parametrize("batch_id", [None, "", "x" * 65, "has space", 7])
def test_batch_id_is_required_and_bounded(as_member, run_id, batch_id):
    body = {"metrics": points("x", [0])}
    if batch_id is not None:
        body["batch_id"] = batch_id
    response = as_member.post(f"/api/v1/runs/{run_id}/log", body)
    assert error(response) == (400, "batch_id")


@pytest.mark.django_db
def test_unknown_top_level_field_is_refused(as_member, run_id):
    assert error(log(as_member, run_id, metric=[])) == (400, "metric")


@pytest.mark.django_db
@pytest.mark.parametrize("literal", ["1e400", "-1e400", "1" + "0" * 400])
def test_numbers_beyond_float64_are_refused_not_turned_into_infinity(as_member, run_id, literal):
    body = '{"batch_id": "big", "metrics": [{"key": "x", "step": 0, "value": ' + literal + "}]}"
    response = as_member.client.post(
        f"/api/v1/runs/{run_id}/log", data=body, content_type="application/json"
    )
    assert error(response) == (400, "metrics[0].value")
    assert not MetricPoint.objects.filter(run__public_id=run_id).exists()


# ---- dataset sizes: stored as bigint ------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["size", "file_count"])
def test_a_dataset_number_of_2_63_minus_1_is_stored(as_member, run_id, name):
    response = log(as_member, run_id, datasets=[{"name": "train", name: 2**63 - 1}])
    assert response.status_code == 200, response.content
    datasets = as_member.get(f"/api/v1/runs/{run_id}").json()["datasets"]
    assert datasets[0][name] == 2**63 - 1


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["size", "file_count"])
@pytest.mark.parametrize("number", [2**63, 10**30, -1])
def test_a_dataset_number_outside_0_to_2_63_minus_1_is_refused(as_member, run_id, name, number):
    response = log(as_member, run_id, datasets=[{"name": "train", name: number}])
    assert error(response) == (400, f"datasets[0].{name}")
    assert response.json()["error"]["message"] == "must be an integer from 0 to 9223372036854775807"


# ---- params and tags per run, whatever the batches ---------------------------------------


def fill(api, run_id, kind: str, count: int, prefix: str = "k") -> None:
    """``count`` new keys of ``kind``, a batch of at most 1,000 at a time."""
    for start in range(0, count, 1000):
        keys = range(start, min(start + 1000, count))
        body = {"batch_id": f"{kind}-{prefix}-{start}", kind: {f"{prefix}{i}": i for i in keys}}
        assert api.post(f"/api/v1/runs/{run_id}/log", body).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "limit"), [("params", limits.MAX_PARAMS_PER_RUN), ("tags", limits.MAX_TAGS_PER_RUN)]
)
def test_a_run_holds_up_to_its_cap_across_batches(as_member, run_id, kind, limit):
    assert limit == 10_000
    fill(as_member, run_id, kind, limit)
    assert len(as_member.get(f"/api/v1/runs/{run_id}").json()[kind]) == 10_000


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "limit"), [("params", limits.MAX_PARAMS_PER_RUN), ("tags", limits.MAX_TAGS_PER_RUN)]
)
def test_one_key_past_the_runs_cap_is_refused_and_the_batch_writes_nothing(
    as_member, run_id, kind, limit
):
    fill(as_member, run_id, kind, limit - 1)
    body = {
        "batch_id": "over",
        kind: {"last": 1, "one-too-many": 2},
        "metrics": points("m", [0]),
    }
    response = as_member.post(f"/api/v1/runs/{run_id}/log", body)
    assert response.json()["error"] == {
        "code": "invalid",
        "message": f"a run holds at most 10,000 {kind}; this one has 9,999 and the request adds 2",
        "field": kind,
    }
    run = as_member.get(f"/api/v1/runs/{run_id}").json()
    assert (len(run[kind]), run["metrics"]) == (9_999, {})
    # Keys it already has, and (for tags) removals, still go through at the cap.
    fill(as_member, run_id, kind, 1, prefix="last")
    again = {"batch_id": "again", kind: {"k0": 0, **({"k1": None} if kind == "tags" else {})}}
    assert as_member.post(f"/api/v1/runs/{run_id}/log", again).status_code == 200


@pytest.mark.django_db
def test_tags_set_by_an_edit_count_towards_the_cap(as_member, run_id):
    fill(as_member, run_id, "tags", limits.MAX_TAGS_PER_RUN)
    response = as_member.patch(f"/api/v1/runs/{run_id}", {"tags": {"k0": None, "new": "a"}})
    assert response.status_code == 200  # one removed, one added: still 10,000
    response = as_member.patch(f"/api/v1/runs/{run_id}", {"tags": {"newer": "b"}})
    assert error(response) == (400, "tags")
    keys = set(Tag.objects.filter(run__public_id=run_id).values_list("key", flat=True))
    assert (len(keys), "new" in keys, "k0" in keys, "newer" in keys) == (10_000, True, False, False)
