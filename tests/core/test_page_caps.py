"""Every API list answers a page at a time, at most a documented number of items: a
larger page_size is a 400 naming the field and the limit, and ``next`` walks the rest."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from apps.notifications.models import Destination
from tests.conftest import points
from tests.notifications.helpers import rule

API = "/api/v1"

# (list, path, extra query, page-size parameter, its maximum)
LISTS = [
    ("projects", "/projects", {}, "page_size", 1000),
    ("members", "/projects/vision/members", {}, "page_size", 1000),
    ("runs", "/projects/vision/runs", {}, "page_size", 1000),
    ("metric keys", "/runs/{run}/metrics", {}, "page_size", 10_000),
    ("metric history", "/runs/{run}/metrics/history", {"key": "loss"}, "page_size", 10_000),
    ("artifacts", "/runs/{run}/artifacts", {"recursive": "true"}, "page_size", 10_000),
    ("audit", "/projects/vision/audit", {}, "page_size", 1000),
    ("comments", "/runs/{run}/comments", {}, "page_size", 1000),
    ("share links", "/runs/{run}/share-links", {}, "page_size", 1000),
    ("destinations", "/projects/vision/destinations", {}, "page_size", 1000),
    ("rules", "/projects/vision/rules", {}, "page_size", 1000),
    ("deliveries", "/projects/vision/deliveries", {}, "limit", 200),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "path", "query", "param", "maximum"), LISTS, ids=lambda x: x)
def test_a_page_past_the_maximum_is_400_naming_the_field_and_the_limit(
    as_admin, run_id, name, path, query, param, maximum
):
    url = API + path.format(run=run_id)
    assert as_admin.get(url, {**query, param: maximum}).status_code == 200
    response = as_admin.get(url, {**query, param: maximum + 1})
    assert (response.status_code, response.json()) == (
        400,
        {
            "error": {
                "code": "invalid",
                "message": f"{param} must be between 1 and {maximum}",
                "field": param,
            }
        },
    )


@pytest.fixture
def three_of_each(as_admin, project, run_id):
    """Three items in each list that used to answer everything at once."""
    for slug in ("alpha", "zeta"):
        assert as_admin.post(f"{API}/projects", {"slug": slug, "name": slug}).status_code == 201
    logged = as_admin.post(
        f"{API}/runs/{run_id}/log",
        {"batch_id": "keys", "metrics": points("a", [0]) + points("b", [0]) + points("c", [0])},
    )
    assert logged.status_code == 200
    for number in range(3):
        comment = as_admin.post(f"{API}/runs/{run_id}/comments", {"body": f"note {number}"})
        assert comment.status_code == 201
        link = as_admin.post(f"{API}/runs/{run_id}/share-links", {"expires_in": 3600})
        assert link.status_code == 201
    for name in ("ml-runs", "alerts", "nightly"):
        destination = Destination(project=project, kind="slack", name=name, target="C0KIROKU01")
        destination.set_credentials({"token": "xoxb-test-token"})
        destination.save()
    for event in ("run.finished", "run.failed", "run.crashed"):
        rule(project, destination, event)
    return run_id


# (list, path, what identifies an item)
PAGED = [
    ("projects", "/projects", "slug"),
    ("members", "/projects/vision/members", "username"),
    ("metric keys", "/runs/{run}/metrics", "key"),
    ("comments", "/runs/{run}/comments", "id"),
    ("share links", "/runs/{run}/share-links", "id"),
    ("destinations", "/projects/vision/destinations", "id"),
    ("rules", "/projects/vision/rules", "id"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "path", "identity"), PAGED, ids=lambda x: x)
def test_next_walks_the_whole_list_in_its_order(as_admin, three_of_each, name, path, identity):
    url = API + path.format(run=three_of_each)
    everything = as_admin.get(url).json()
    assert everything["next"] is None
    assert len(everything["results"]) == 3
    first = as_admin.get(url, {"page_size": 2}).json()
    second = as_admin.get(url, {"page_size": 2, "cursor": first["next"]}).json()
    assert second["next"] is None
    walked = [item[identity] for item in first["results"] + second["results"]]
    assert walked == [item[identity] for item in everything["results"]]


@pytest.mark.django_db
def test_a_cursor_of_another_list_is_400(as_admin, three_of_each):
    projects_next = as_admin.get(f"{API}/projects", {"page_size": 1}).json()["next"]
    response = as_admin.get(f"{API}/projects/vision/members", {"cursor": projects_next})
    assert (response.status_code, response.json()) == (
        400,
        {
            "error": {
                "code": "invalid",
                "message": "cursor is not one of this list's; use the `next` given",
                "field": "cursor",
            }
        },
    )


@pytest.mark.django_db
def test_every_list_documents_its_maximum_in_the_schema():
    schema = json.loads(Client().get("/api/schema/", HTTP_ACCEPT="application/json").content)
    for _name, path, _query, param, maximum in LISTS:
        template = "/api/v1" + path.replace("{run}", "{run_id}").replace("vision", "{slug}")
        parameters = {p["name"]: p for p in schema["paths"][template]["get"]["parameters"]}
        assert f"1 to {maximum}" in parameters[param]["description"], template
