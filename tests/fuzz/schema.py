"""The OpenAPI schema the fuzzers are driven by, as the real WSGI application serves it.

Loaded once, at import, because schemathesis makes one pytest item per operation at
collection (``tests/fuzz/conftest.py`` collects this folder only under ``-m fuzz``).
"""

from __future__ import annotations

from functools import cache

import schemathesis

from tests.fuzz.world import OUTSIDER, STEP_MAX, STEP_MIN

SCHEMA_URL = "/api/schema/?format=json"
# Fixed, so a CI failure replays locally with the same requests.
SEED = 20260115
# Generated cases per operation in the fuzzing phase; the examples and coverage phases
# add their own (a few dozen per operation).
MAX_EXAMPLES = 40

# Values schemathesis mixes into the query parameters of these names, so that a share of
# the requests reach past validation into the code behind it.
KNOWN_VALUES: dict[str, list] = {
    "key": ["loss", "edge", "eval/acc"],
    "ref": ["resnet@staging", "resnet/1", "resnet", "resnet@latest", "resnet@champion"],
    "filter": [
        "metrics.loss < 0.5",
        "params.lr > 0.0001 and tags.team = 'vision'",
        "status in ('RUNNING', 'FINISHED') or not datasets.name like 'tr%'",
        "start_time > '2024-01-01T00:00:00Z' and duration < 3600",
        "params.optimizer = 'adam' and metrics.`eval/acc` >= 0.1",
    ],
    "order_by": ["metrics.loss desc", "params.lr, name asc", "duration desc, start_time"],
    "columns": ["params.lr,metrics.loss", "tags.team", "metrics.edge"],
    "baseline": ["branch:main", "best:loss:min", "latest"],
    "action": ["run.create", "share_link.create", "run.delete"],
    "target_type": ["run", "comment", "share_link"],
    "actor": ["fuzz_admin", OUTSIDER],
    "since": ["2024-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00"],
    "until": ["2999-01-01T00:00:00+01:00", "0001-01-01T00:00:00+14:00"],
    "max_points": [1, 2, 3, 10, 1000],
    "min_step": [STEP_MIN, -1, 0],
    "max_step": [STEP_MAX, 1, 0],
    "after_step": [STEP_MIN, 0, STEP_MAX - 1],
}


def _config() -> schemathesis.Config:
    dictionaries = {name: {"values": values} for name, values in KNOWN_VALUES.items()}
    parameters = {
        f"query.{name}": {"dictionary": name, "probability": 0.5} for name in KNOWN_VALUES
    }
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "suppress-health-check": ["all"],
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
            # Nothing is kept between runs: every run is the same run.
            "cache": {"enabled": False},
            "dictionaries": dictionaries,
            "parameters": parameters,
        }
    )


@cache
def fuzz_schema():
    """The schema, loaded from ``/api/schema/`` through the WSGI application that every
    generated request then goes to."""
    from config.wsgi import application

    return schemathesis.openapi.from_wsgi(SCHEMA_URL, application, config=_config())
