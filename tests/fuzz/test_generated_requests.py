"""Schemathesis drives every operation in the OpenAPI schema with generated requests
(the documented examples, boundary and wrong-type values, then random ones), sent as a
project admin through the real WSGI application; no answer may be a 5xx.

Three in four requests are aimed at the world's real rows (``tests/fuzz/world.py``), so
they get past the 404; the rest keep the generated path parameters, so the id parsing
is fuzzed as well. The choice is a function of the generated case, so a failure
replays exactly.
"""

from __future__ import annotations

import zlib

import pytest
from schemathesis.checks import not_a_server_error

from tests.fuzz.schema import fuzz_schema
from tests.fuzz.world import body_fields

pytestmark = pytest.mark.fuzz

schema = fuzz_schema()


def _aim(case, world) -> None:
    # The salt leaves out what differs between runs: object addresses, and the world's
    # random ids (schemathesis derives some cases from earlier, already aimed ones).
    body = case.body if isinstance(case.body, dict | list | str | int | float) else None
    path = {
        name: "<real>" if value in world.ids.get(name, ()) else value
        for name, value in (case.path_parameters or {}).items()
    }
    salt = repr((path, case.query, body))
    if zlib.crc32(salt.encode()) % 4 == 0:
        return
    for name in case.path_parameters or {}:
        if name in world.ids:
            case.path_parameters[name] = world.pick(name, salt)
    if isinstance(case.body, dict):
        case.body = body_fields(world, case.body, salt)


@schema.parametrize()
def test_no_generated_request_gets_a_server_error(
    case, world, after_commit, server_tracebacks, tally
):
    _aim(case, world)
    with after_commit():
        response = case.call(headers=world.headers)
    tally[f"generated {response.status_code // 100}xx"] += 1
    try:
        case.validate_response(response, checks=[not_a_server_error])
    except Exception as failure:
        if server_tracebacks:
            failure.add_note("Server traceback:\n" + server_tracebacks[-1])
        raise
