"""Every operation in the OpenAPI schema, with each hostile value (``tests/fuzz/hostile.py``)
in each field of its documented request examples, each query parameter and each path
parameter, sent as a project admin through the real WSGI application at the world's
real rows: no answer may be a 5xx.

Schemathesis (``test_generated_requests.py``) explores; this is the systematic half:
the free-form bodies (run records, batches, CI reports) are documented as open
objects, so generated bodies rarely hold the fields their handlers read.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from werkzeug.test import Client

from tests.fuzz.hostile import operation_probes, quoted
from tests.fuzz.schema import KNOWN_VALUES, fuzz_schema
from tests.fuzz.world import World

pytestmark = pytest.mark.fuzz

METHODS = ("get", "post", "put", "patch", "delete")
OPERATIONS = [
    (method, path, operation)
    for path, item in fuzz_schema().raw_schema["paths"].items()
    for method, operation in item.items()
    if method in METHODS
]


def _base_query(operation: dict) -> dict[str, str]:
    """The required query parameters, each with a value that passes validation."""
    required = [
        p["name"]
        for p in operation.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    ]
    missing = set(required) - set(KNOWN_VALUES)
    assert not missing, f"add a valid value for {missing} to KNOWN_VALUES in tests/fuzz/schema.py"
    return {name: str(KNOWN_VALUES[name][0]) for name in required}


def _url(template: str, path: dict[str, str], query: dict[str, str]) -> str:
    for name, value in path.items():
        template = template.replace("{" + name + "}", quoted(value))
    if not query:
        return template
    pairs = {k: v.encode("utf-8", "surrogatepass") for k, v in query.items()}
    return f"{template}?{urlencode(pairs)}"


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    OPERATIONS,
    ids=[f"{method.upper()} {path}" for method, path, _ in OPERATIONS],
)
def test_no_hostile_value_gets_a_server_error(
    method, path, operation, world: World, after_commit, server_tracebacks, tally
):
    from config.wsgi import application

    client = Client(application)
    names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
    real = {name: world.ids[name][0] for name in names}
    failures = []
    sent = 0
    # Answers that show the request got past authentication and the lookup of its rows.
    reached = 0
    for probe in operation_probes(operation, real, _base_query(operation)):
        headers = {**world.headers, "Content-Type": "application/json", **probe.headers}
        headers = {k: v for k, v in headers.items() if v}
        url = _url(path, probe.path, probe.query)
        before = len(server_tracebacks)
        with after_commit():
            response = client.open(url, method=method.upper(), data=probe.body, headers=headers)
        sent += 1
        tally[f"hostile values {response.status_code // 100}xx"] += 1
        reached += response.status_code < 500 and response.status_code not in (401, 403, 404)
        if response.status_code >= 500:
            trace = server_tracebacks[-1] if len(server_tracebacks) > before else "(none)"
            failures.append(
                f"{method.upper()} {url[:300]}\n  with {probe.what}\n"
                f"  -> {response.status_code} {response.get_data()[:300]!r}\n{trace}"
            )
    assert reached > 0, f"none of {sent} requests got past the 401/403/404"
    assert failures == [], f"{len(failures)} of {sent} requests got a 5xx:\n\n" + "\n".join(
        failures[:5]
    )
