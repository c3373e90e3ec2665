"""The OpenAPI schema is valid and complete: it builds without a warning, every answer
has a real schema, every error is the one Error component, every page the one
envelope (apps/core/schema.py)."""

from __future__ import annotations

import contextlib
import json

import pytest
from django.core.management import call_command
from django.test import Client
from drf_spectacular.drainage import GENERATOR_STATS, reset_generator_stats
from drf_spectacular.management.commands.spectacular import SchemaGenerationError

from tests.core.test_schema_areas import AREAS

ERROR_REF = {"$ref": "#/components/schemas/Error"}


@pytest.fixture
def schema(db):
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return json.loads(response.content)


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def test_the_schema_validates_without_warnings(tmp_path):
    reset_generator_stats()
    try:
        # Raises SchemaGenerationError on a warning, after printing them; an invalid
        # schema raises SchemaValidationError.
        with contextlib.suppress(SchemaGenerationError):
            call_command(
                "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml")
            )
        problems = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    finally:
        reset_generator_stats()
    assert problems == []


def test_every_error_answer_is_the_one_error_component(schema):
    wrong = [
        f"{name} {code}"
        for name, operation in operations(schema)
        for code, response in operation["responses"].items()
        if int(code) >= 400
        and response.get("content") != {"application/json": {"schema": ERROR_REF}}
    ]
    assert wrong == []
    error = schema["components"]["schemas"]["ErrorDetail"]
    assert error["required"] == ["code", "message", "field"]
    assert error["properties"]["field"]["nullable"] is True


@pytest.mark.parametrize(
    ("operation", "codes"),
    [
        ("GET /api/v1/projects/{slug}/runs", ["400", "401", "403", "404", "429"]),
        (
            "POST /api/v1/runs/{run_id}/log",
            ["400", "401", "403", "404", "409", "413", "415", "429"],
        ),
        ("DELETE /api/v1/share-links/{link_id}", ["400", "401", "403", "404", "429"]),
    ],
)
def test_an_operation_documents_the_errors_it_can_answer(schema, operation, codes):
    found = dict(operations(schema))[operation]
    assert [code for code in found["responses"] if int(code) >= 400] == codes


def test_every_page_is_the_one_envelope(schema):
    components = schema["components"]["schemas"]
    pages = {name: c for name, c in components.items() if "results" in c.get("properties", {})}
    assert "RunSearch" in pages and "CommentPage" in pages
    for name, page in pages.items():
        assert page["properties"]["results"]["type"] == "array", name
        assert page["properties"]["next"]["type"] == "string", name
        assert page["properties"]["next"]["nullable"] is True, name
        assert {"results", "next"} <= set(page["required"]), name


def _is_free_form(content: dict) -> bool:
    body = content.get("schema", {})
    return body.get("type") == "object" and "properties" not in body


@pytest.mark.parametrize("area", AREAS)
def test_every_answer_of_an_area_has_a_real_schema(schema, area):
    free_form = [
        f"{name} {code}"
        for name, operation in operations(schema)
        if operation["tags"] == [area]
        for code, response in operation["responses"].items()
        for content in response.get("content", {}).values()
        if _is_free_form(content)
    ]
    assert free_form == []
