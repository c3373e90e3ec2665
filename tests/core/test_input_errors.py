"""Bad input gets a 4xx in the one error shape, never a 500."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from apps.runs.models import Run


def assert_error(response, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field"}
    if field is not None:
        assert body["error"]["field"] == field


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/projects/vision/runs", {"name": "a\u0000b"}, "name"),
        ("/api/v1/projects/vision/runs", {"params": {"lr": "1\u0000"}}, "params.lr"),
        ("/api/v1/projects/vision/runs", {"tags": {"k\u0000": "v"}}, "tags.k\u0000"),
    ],
)
def test_nul_characters_in_json_are_refused(as_member, path, body, field):
    assert_error(as_member.post(path, body), 400, field)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/projects/vi%00sion",
        "/api/v1/runs/%00",
        "/api/v1/projects/vision/members/a%00",
    ],
)
def test_nul_characters_in_paths_are_refused(as_admin, path):
    assert_error(as_admin.get(path), 400)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/projects/vision/audit", {"actor": "a\u0000"}, "actor"),
        ("/api/v1/projects/vision/runs", {"columns": "params.a\u0000"}, "columns"),
    ],
)
def test_nul_characters_in_query_parameters_are_refused(as_admin, path, params, field):
    assert_error(as_admin.get(path, params), 400, field)


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["[]", '"text"', "12", "null"])
def test_non_object_bodies_are_400(as_member, run_id, body):
    response = as_member.client.post(
        f"/api/v1/runs/{run_id}/log", data=body, content_type="application/json"
    )
    assert_error(response, 400)


@pytest.mark.django_db
def test_form_encoded_body_is_415(as_member, run_id):
    response = as_member.client.post(f"/api/v1/runs/{run_id}/log", data={"batch_id": "x"})
    assert_error(response, 415)


@pytest.mark.django_db
def test_truncated_json_names_the_position(as_member, run_id):
    response = as_member.client.post(
        f"/api/v1/runs/{run_id}/log", data='{"batch_id": ', content_type="application/json"
    )
    assert_error(response, 400)
    assert "line 1 column 14" in response.json()["error"]["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": "1001"}, "page_size"),
        ({"page_size": "x"}, "page_size"),
        ({"cursor": "forged"}, "cursor"),
        ({"order_by": "metrics.acc sideways"}, "order_by"),
        ({"columns": "weights.x"}, "columns"),
        ({"filter": "metrics.acc >"}, "filter"),
    ],
)
def test_bad_search_parameters_name_the_field(as_member, params, field):
    assert_error(as_member.get("/api/v1/projects/vision/runs", params), 400, field)


@pytest.mark.django_db
def test_unknown_api_path_is_json_404(as_member):
    response = as_member.get("/api/v1/nothing/here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_wrong_method_is_405_in_the_error_shape(as_member, run_id):
    assert_error(as_member.put(f"/api/v1/runs/{run_id}/log", {}), 405)


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["UPPER", "-lead", "trail-", "a" * 65, "sp ace", ""])
def test_bad_project_slug_is_400(api_as, admin, slug):
    response = api_as(admin).post("/api/v1/projects", {"slug": slug, "name": "x"})
    assert_error(response, 400, "slug")


@pytest.mark.django_db
def test_taken_slug_is_409(api_as, admin, project):
    response = api_as(admin).post("/api/v1/projects", {"slug": project.slug, "name": "x"})
    assert_error(response, 409, "slug")


# ---- JSON bodies: limits of the parser (apps/core/json_limits.py) -----------------------


def post_text(api, path: str, text: str):
    """POST ``text`` as is: the test client's own encoder cannot write a lone surrogate."""
    return api.client.post(path, data=text.encode(), content_type="application/json")


def error_of(response) -> tuple[int, str, str | None]:
    body = response.json()["error"]
    return response.status_code, body["message"], body["field"]


DEEP = "arrays and objects nest deeper than 64 levels here; a request body nests at most 64 levels"
LONG_INTEGER = (
    "integer has more than 4300 digits; integers have at most 4300 digits (send longer "
    "numbers as strings)"
)
SURROGATE = (
    "text holds a lone surrogate (\\ud800), which cannot be stored; send whole characters "
    "(a surrogate pair for one above U+FFFF)"
)


@pytest.mark.django_db
def test_an_integer_of_5000_digits_is_400_naming_its_field(as_member):
    response = post_text(as_member, "/api/v1/projects/vision/runs", '{"name": ' + "7" * 5000 + "}")
    assert error_of(response) == (400, LONG_INTEGER, "name")


@pytest.mark.django_db
def test_an_integer_of_5000_digits_deep_in_a_batch_names_its_item(as_member, run_id):
    text = '{"batch_id": "b", "metrics": [{"key": "a", "value": 1, "step": ' + "9" * 5000 + "}]}"
    response = post_text(as_member, f"/api/v1/runs/{run_id}/log", text)
    assert error_of(response) == (400, LONG_INTEGER, "metrics[0].step")


@pytest.mark.django_db
def test_arrays_nested_100000_deep_are_400_naming_the_path_to_level_65(as_member):
    text = '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = post_text(as_member, "/api/v1/projects/vision/runs", text)
    assert error_of(response) == (400, DEEP, "name" + "[0]" * 63)


@pytest.mark.django_db
def test_nesting_past_the_limit_that_the_parser_can_still_read_is_400(as_member, run_id):
    # 70 levels parse fine; the limit is checked on what was parsed.
    text = '{"batch_id": "b", "summary": {"s": ' + "[" * 68 + "]" * 68 + "}}"
    response = post_text(as_member, f"/api/v1/runs/{run_id}/log", text)
    assert error_of(response) == (400, DEEP, "summary.s" + "[0]" * 62)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/projects/vision/runs", {"name": "\ud800"}, "name"),
        ("/api/v1/projects/vision/runs", {"notes": "a\ud800b"}, "notes"),
        ("/api/v1/projects/vision/runs", {"tags": {"team": "\ud800"}}, "tags.team"),
        ("/api/v1/projects/vision/runs", {"tags": {"\ud800": "v"}}, "tags.\\ud800"),
        ("/api/v1/projects/vision/runs", {"params": {"lr": "\ud800"}}, "params.lr"),
        ("/api/v1/projects/vision/runs", {"params": {"lr": ["ok", "\ud800"]}}, "params.lr[1]"),
        ("/api/v1/projects", {"slug": "moon", "name": "\ud800"}, "name"),
        (
            "RUN/log",
            {"batch_id": "b", "summary": {"best": {"note": "\ud800"}}},
            "summary.best.note",
        ),
        ("RUN/comments", {"body": "\ud800"}, "body"),
        ("RUN/ci-report", {"junit": {"failed": ["\ud800"]}}, "junit.failed[0]"),
    ],
)
def test_a_lone_surrogate_anywhere_is_400_naming_its_field(as_member, run_id, path, body, field):
    path = path.replace("RUN", f"/api/v1/runs/{run_id}")
    response = post_text(as_member, path, json.dumps(body))
    assert error_of(response) == (400, SURROGATE, field)


@pytest.mark.django_db
def test_a_lone_surrogate_in_an_edit_is_400(as_member, run_id):
    response = as_member.client.patch(
        f"/api/v1/runs/{run_id}",
        data=json.dumps({"notes": "\udfff"}).encode(),
        content_type="application/json",
    )
    assert error_of(response) == (400, SURROGATE.replace("ud800", "udfff"), "notes")


@pytest.mark.django_db
def test_a_surrogate_pair_is_one_character_and_is_stored(as_member):
    # json.dumps writes the emoji as the escaped pair "\ud83d\ude00".
    text = json.dumps({"name": "smile \U0001f600", "tags": {"mood": "\U0001f600"}})
    assert "\\ud83d\\ude00" in text
    response = post_text(as_member, "/api/v1/projects/vision/runs", text)
    assert response.status_code == 201, response.content
    assert (response.json()["name"], response.json()["tags"]) == (
        "smile \U0001f600",
        {"mood": "\U0001f600"},
    )
    run = Run.objects.get(public_id=response.json()["id"])
    assert (run.name, dict(run.tags.values_list("key", "value"))) == (
        "smile \U0001f600",
        {"mood": "\U0001f600"},
    )


# ---- ids and integers in paths, queries: ASCII digits only -------------------------------

ARABIC_INDIC = str.maketrans("0123456789", "".join(map(chr, range(0x660, 0x66A))))


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["patch", "delete"])
@pytest.mark.parametrize("spelling", ["%C2%B2", "arabic-indic", "%EF%BC%91"])
def test_comment_ids_in_other_digits_are_404(as_member, run_id, method, spelling):
    comment = as_member.post(f"/api/v1/runs/{run_id}/comments", {"body": "keep me"}).json()
    if spelling == "arabic-indic":
        # The comment's own id in Arabic-Indic digits, which int() would read as it.
        spelling = str(comment["id"]).translate(ARABIC_INDIC)
    response = getattr(as_member, method)(f"/api/v1/comments/{spelling}", {"body": "changed"})
    assert error_of(response) == (404, "comment not found", None)
    thread = as_member.get(f"/api/v1/runs/{run_id}/comments").json()["results"]
    assert [c["body"] for c in thread] == ["keep me"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/share-links/%C2%B2", "/api/v1/share-links/\u0661"])
def test_share_link_ids_in_other_digits_are_404(as_member, path):
    assert error_of(as_member.delete(path)) == (404, "share link not found", None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value", ["\u0661\u0660", "²", "\uff11\uff10", " 10", "+10", "1_0", "9" * 5000]
)
def test_integer_query_parameters_take_ascii_digits_only(as_member, value):
    response = as_member.get("/api/v1/projects/vision/runs", {"page_size": value})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "page_size"


# ---- numbers and times past what is stored ----------------------------------------------

OUT_OF_RANGE_TIMES = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"]
OUT_OF_RANGE = "time must fall within years 1 to 9999 once converted to UTC"


@pytest.mark.django_db
@pytest.mark.parametrize("moment", OUT_OF_RANGE_TIMES)
def test_a_start_time_outside_utc_years_1_to_9999_is_400(as_member, moment):
    response = as_member.post("/api/v1/projects/vision/runs", {"name": "x", "started_at": moment})
    assert error_of(response) == (400, OUT_OF_RANGE, "started_at")


@pytest.mark.django_db
@pytest.mark.parametrize("moment", OUT_OF_RANGE_TIMES)
def test_an_end_time_outside_utc_years_1_to_9999_is_400(as_member, run_id, moment):
    response = as_member.post(
        f"/api/v1/runs/{run_id}/finish", {"status": "finished", "ended_at": moment}
    )
    assert error_of(response) == (400, OUT_OF_RANGE, "ended_at")


@pytest.mark.django_db
@pytest.mark.parametrize("moment", OUT_OF_RANGE_TIMES)
def test_a_metric_timestamp_outside_utc_years_1_to_9999_is_400(as_member, run_id, moment):
    point = {"key": "loss", "value": 1.0, "step": 0, "timestamp": moment}
    response = as_member.post(f"/api/v1/runs/{run_id}/log", {"batch_id": "b", "metrics": [point]})
    assert error_of(response) == (400, OUT_OF_RANGE, "metrics[0].timestamp")


@pytest.mark.django_db
@pytest.mark.parametrize("moment", OUT_OF_RANGE_TIMES)
@pytest.mark.parametrize("name", ["since", "until"])
def test_audit_bounds_outside_utc_years_1_to_9999_are_400(as_admin, moment, name):
    response = as_admin.get("/api/v1/projects/vision/audit", {name: moment})
    assert error_of(response) == (400, OUT_OF_RANGE, name)


@pytest.mark.django_db
@pytest.mark.parametrize("moment", OUT_OF_RANGE_TIMES)
@pytest.mark.parametrize("field", ["created", "start_time", "end_time"])
def test_search_times_outside_utc_years_1_to_9999_are_400(as_member, run_id, moment, field):
    response = as_member.get("/api/v1/projects/vision/runs", {"filter": f"{field} > '{moment}'"})
    status, message, where = error_of(response)
    assert (status, where) == (400, "filter")
    assert OUT_OF_RANGE in message


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("moment", "utc"),
    [
        ("9999-12-31T09:59:59-14:00", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("0001-01-01T14:00:00+14:00", datetime(1, 1, 1, tzinfo=UTC)),
    ],
)
def test_the_utc_extremes_themselves_are_stored(as_member, moment, utc):
    response = as_member.post("/api/v1/projects/vision/runs", {"name": "x", "started_at": moment})
    assert response.status_code == 201, response.content
    assert Run.objects.get(public_id=response.json()["id"]).started_at == utc


@pytest.mark.django_db
def test_an_integer_past_float64_as_a_timestamp_is_400(as_member, run_id):
    point = {"key": "loss", "value": 1.0, "step": 0, "timestamp": 10**400}
    response = as_member.post(f"/api/v1/runs/{run_id}/log", {"batch_id": "b", "metrics": [point]})
    assert error_of(response) == (400, "Unix seconds out of range", "metrics[0].timestamp")
