"""Bad input gets a 4xx in the one error shape, never a 500."""

from __future__ import annotations

import pytest


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
