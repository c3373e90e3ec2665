"""The API docs group the operations by area (apps/core/schema.py): every operation has
exactly one area tag, and the areas come in their documented order."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from apps.core.schema import area_of

AREAS = [
    "runs",
    "artifacts",
    "collaboration",
    "notifications",
    "CI",
    "models",
    "projects",
    "accounts",
]


@pytest.fixture
def schema(db):
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return json.loads(response.content)


def operations(schema) -> dict[str, list[str]]:
    return {
        f"{method.upper()} {path}": operation.get("tags", [])
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }


def test_the_areas_are_listed_in_order_with_descriptions(schema):
    assert [tag["name"] for tag in schema["tags"]] == AREAS
    assert all(tag["description"] for tag in schema["tags"])


def test_every_operation_is_in_exactly_one_area(schema):
    untagged = {op: tags for op, tags in operations(schema).items() if len(tags) != 1}
    assert untagged == {}
    assert {tags[0] for tags in operations(schema).values()} == set(AREAS)


@pytest.mark.parametrize(
    ("operation", "area"),
    [
        ("POST /api/v1/runs/{run_id}/log", "runs"),
        ("GET /api/v1/projects/{slug}/runs", "runs"),
        ("POST /api/v1/runs/{run_id}/artifacts", "artifacts"),
        ("POST /api/v1/runs/{run_id}/comments", "collaboration"),
        ("DELETE /api/v1/share-links/{link_id}", "collaboration"),
        ("GET /api/v1/projects/{slug}/rules", "notifications"),
        ("POST /api/v1/runs/{run_id}/ci-report", "CI"),
        ("DELETE /api/v1/projects/{slug}", "projects"),
        ("GET /api/v1/projects/{slug}/audit", "projects"),
        ("GET /api/v1/me", "accounts"),
        ("POST /api/v1/projects/{slug}/models/{name}/versions", "models"),
    ],
)
def test_an_operation_is_in_its_area(schema, operation, area):
    assert operations(schema)[operation] == [area]


@pytest.mark.parametrize(
    ("module", "area"),
    [
        ("apps.collab.api.comments", "collaboration"),
        ("apps.projects.api.audit", "projects"),
        ("apps.registry.api", "models"),
        ("apps.portal.views.runs_table", None),
        ("rest_framework.views", None),
    ],
)
def test_area_of_a_view_module(module, area):
    assert area_of(module) == area
