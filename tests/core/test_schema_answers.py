"""The OpenAPI schema describes what the API answers: real answers of a run's whole
life (runs, metrics, comments, share links, artifacts, CI, notifications, errors)
validate against their operation's documented schema, with no undocumented key."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from django.test import Client

from tests.artifacts.helpers import upload

API = "/api/v1"


def _json_schema(node, *, strict: bool = True):
    """An OpenAPI 3.0 schema as JSON Schema: ``nullable`` as a null alternative,
    references into ``$defs``, and (``strict``) objects closed to undocumented keys."""
    if isinstance(node, list):
        return [_json_schema(item, strict=strict) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value, strict=strict) for key, value in node.items()}
    if "$ref" in node:
        node["$ref"] = node["$ref"].replace("#/components/schemas/", "#/$defs/")
    if strict and "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    if node.pop("nullable", False):
        node = {"anyOf": [node, {"type": "null"}]}
    return node


class Documented:
    """Checks answers against the schema the server serves."""

    def __init__(self, schema: dict):
        self.schema = schema
        self.defs = _json_schema(schema["components"]["schemas"])

    def operation(self, method: str, path: str) -> tuple[str, dict]:
        path = path.split("?")[0]
        for template, operations in self.schema["paths"].items():
            pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
            if re.match(pattern, path) and method.lower() in operations:
                return template, operations[method.lower()]
        raise AssertionError(f"{method} {path} is not in the schema")

    def check(self, method: str, path: str, response) -> dict:
        template, operation = self.operation(method, path)
        code = str(response.status_code)
        where = f"{method} {template} {code}"
        assert code in operation["responses"], f"{where} is not documented"
        content = operation["responses"][code].get("content", {})
        body = response.json()
        schema = {**_json_schema(content["application/json"]["schema"]), "$defs": self.defs}
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(body))
        assert errors == [], f"{where}: {[e.message for e in errors]}"
        return body


@pytest.fixture
def documented(db):
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    return Documented(json.loads(response.content))


@pytest.fixture
def call(as_admin, documented):
    def send(method: str, path: str, body=None, expect: int | None = None) -> dict:
        response = getattr(as_admin, method.lower())(API + path, body)
        if expect is not None:
            assert response.status_code == expect, response.content
        return documented.check(method, API + path, response)

    return send


def test_a_runs_whole_life_is_answered_as_documented(call, as_admin, project):
    run = call(
        "POST",
        f"/projects/{project.slug}/runs",
        {
            "name": "resnet",
            "client_id": "client-0001",
            "params": {"lr": 0.1},
            "tags": {"team": "vision"},
            "git": {"commit": "4f2a9c1", "branch": "main", "dirty": True},
            "environment": {"python": "3.11"},
            "datasets": [{"name": "train", "uri": "data/train"}],
        },
        expect=201,
    )
    run_id = run["id"]
    call(
        "POST",
        f"/runs/{run_id}/log",
        {
            "batch_id": "b-1",
            "metrics": [
                {"key": "loss", "value": 0.5, "step": 0},
                {"key": "loss", "value": "NaN", "step": 1},
                {"key": "acc", "value": 0.9, "step": 1},
            ],
            "summary": {"best": 0.9},
        },
        expect=200,
    )
    call("GET", f"/runs/{run_id}", expect=200)
    call("PATCH", f"/runs/{run_id}", {"notes": "first"}, expect=200)
    call("POST", f"/runs/{run_id}/heartbeat", expect=200)
    call("GET", f"/projects/{project.slug}/runs", expect=200)
    missed = call("GET", f"/projects/{project.slug}/runs?filter=metrics.nope+%3E+1", expect=200)
    assert missed["hints"]
    call("GET", f"/runs/{run_id}/metrics", expect=200)
    call("GET", f"/runs/{run_id}/metrics/history?key=loss&page_size=1", expect=200)
    call("GET", f"/runs/{run_id}/metrics/history?key=loss&max_points=4", expect=200)
    call("GET", f"/runs/{run_id}/compare", expect=200)

    comment = call("POST", f"/runs/{run_id}/comments", {"body": "nice"}, expect=201)
    call("POST", f"/runs/{run_id}/comments", {"body": "yes", "parent": comment["id"]}, expect=201)
    call("GET", f"/runs/{run_id}/comments", expect=200)
    call("GET", f"/comments/{comment['id']}/replies", expect=200)
    call("PATCH", f"/comments/{comment['id']}", {"body": "nicer"}, expect=200)
    call("POST", f"/runs/{run_id}/share-links", {"include_command": True}, expect=201)
    call("GET", f"/runs/{run_id}/share-links", expect=200)

    artifact = upload(as_admin, run_id, "models/model.pt", b"weights")
    call("GET", f"/artifacts/{artifact['id']}", expect=200)
    call("GET", f"/runs/{run_id}/artifacts", expect=200)
    call("GET", f"/runs/{run_id}/artifacts?path=models", expect=200)
    call("GET", f"/runs/{run_id}/artifacts?recursive=true&page_size=1", expect=200)

    call(
        "POST",
        f"/runs/{run_id}/ci-report",
        {"fail_on": ["acc<-0.01"], "junit": {"tests": 2, "passed": 2}},
        expect=201,
    )
    call("GET", f"/runs/{run_id}/ci-report", expect=200)
    call("POST", f"/runs/{run_id}/resume", expect=200)
    call("POST", f"/runs/{run_id}/finish", {"status": "failed"}, expect=200)

    destination = call(
        "POST",
        f"/projects/{project.slug}/destinations",
        {
            "kind": "slack",
            "name": "alerts",
            "config": {"token": "xoxb-1-2-abcd", "channel": "C0KIROKU01"},
        },
        expect=201,
    )
    call("GET", f"/projects/{project.slug}/destinations", expect=200)
    rule = {"event": "run.finished", "destination": destination["id"]}
    call("POST", f"/projects/{project.slug}/rules", rule, expect=201)
    call("GET", f"/projects/{project.slug}/rules", expect=200)
    call("GET", f"/projects/{project.slug}/deliveries", expect=200)

    # Errors: the one Error component, whatever the status.
    call("GET", "/runs/0123456789abcdef0123456789abcdef", expect=404)
    call("PATCH", f"/runs/{run_id}", ["not", "an", "object"], expect=400)
    call("POST", f"/runs/{run_id}/finish", {"status": "killed"}, expect=409)


def test_an_unauthenticated_answer_is_documented(documented):
    path = f"{API}/runs/0123456789abcdef0123456789abcdef"
    response = Client().get(path)
    assert response.status_code == 401
    documented.check("GET", path, response)
