"""Request ids and structured logs: every request has an id, echoed in the response
and carried by every log line written while it is handled; one access line per
request, with nothing secret in it; KIROKU_LOG_FORMAT picks JSON or text.

The id's way into Celery workers is tested with a real worker in
tests/integration/test_observability_worker.py."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from apps.accounts.models import ApiToken
from apps.core.observability import JsonLogFormatter, RequestIdFilter
from tests.factories import make_token

ROOT = Path(__file__).resolve().parents[2]
NEW_ID = re.compile(r"^[0-9a-f]{32}$")
ACCESS_KEYS = [
    "time",
    "level",
    "logger",
    "message",
    "request_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "user_id",
    "token_id",
]


@pytest.fixture
def log_lines():
    """The JSON lines logged from now on (formatted as KIROKU_LOG_FORMAT=json does),
    as dicts; call it to read them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def lines_of(lines: list[dict], logger: str) -> list[dict]:
    return [line for line in lines if line["logger"] == logger]


def test_a_request_without_an_id_gets_a_new_one(client):
    response = client.get("/healthz")

    assert NEW_ID.match(response["X-Request-ID"])


def test_a_sane_request_id_is_echoed(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="build-42.retry_1")

    assert response["X-Request-ID"] == "build-42.retry_1"


@pytest.mark.parametrize(
    "given",
    ["has space", "x" * 65, "new\nline", "-leading-dash", "ünïcode", "a;b", ""],
)
def test_an_unfit_request_id_is_replaced_by_a_new_one(client, given):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=given)

    assert NEW_ID.match(response["X-Request-ID"])


@pytest.mark.django_db
def test_an_api_request_writes_one_json_access_line(api_as, member, log_lines):
    secret = make_token(member, name="laptop")
    token = ApiToken.objects.get(prefix=secret[:12])

    response = api_as(secret).get(
        "/api/v1/me?page_token=s3cr3t-in-query", HTTP_X_REQUEST_ID="req-0001"
    )

    assert response.status_code == 200
    [line] = lines_of(log_lines(), "kiroku.request")
    assert list(line) == ACCESS_KEYS
    assert {key: value for key, value in line.items() if key not in {"time", "duration_ms"}} == {
        "level": "INFO",
        "logger": "kiroku.request",
        "message": "GET /api/v1/me 200",
        "request_id": "req-0001",
        "method": "GET",
        "path": "/api/v1/me",
        "status": 200,
        "user_id": member.pk,
        "token_id": token.pk,
    }
    assert datetime.fromisoformat(line["time"]).utcoffset() == UTC.utcoffset(None)
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0


@pytest.mark.django_db
def test_a_portal_request_logs_its_signed_in_user(client, member, log_lines):
    client.force_login(member)

    assert client.get("/projects").status_code == 200

    [line] = lines_of(log_lines(), "kiroku.request")
    assert (line["user_id"], line["token_id"]) == (member.pk, None)


@pytest.mark.django_db
def test_djangos_4xx_line_carries_the_request_id_once(client, log_lines):
    client.get("/no-such-page", HTTP_X_REQUEST_ID="req-404")

    assert [
        (line["message"], line["request_id"]) for line in lines_of(log_lines(), "django.request")
    ] == [("Not Found: /no-such-page", "req-404")]


@pytest.mark.django_db
def test_a_credential_in_the_path_is_masked_in_every_line(client, log_lines):
    link_token = "sharelinkcredential0123456789ab"

    response = client.get(f"/s/{link_token}", HTTP_X_REQUEST_ID="req-share")

    assert response.status_code == 404
    lines = log_lines()
    assert [(line["logger"], line["message"]) for line in lines] == [
        ("django.request", "Not Found: /s/<token>"),
        ("kiroku.request", "GET /s/<token> 404"),
    ]
    assert lines[1]["path"] == "/s/<token>"
    assert link_token not in json.dumps(lines)


def test_a_healthy_probe_writes_no_info_line(client, log_lines):
    assert client.get("/healthz").status_code == 200

    assert lines_of(log_lines(), "kiroku.request") == []


def test_extra_fields_holding_objects_are_left_out_of_json(log_lines):
    logging.getLogger("kiroku.check").warning(
        "disk %s full", "var", extra={"request": object(), "folder": "var"}
    )

    [line] = log_lines()
    assert {key: value for key, value in line.items() if key != "time"} == {
        "level": "WARNING",
        "logger": "kiroku.check",
        "message": "disk var full",
        "request_id": None,
        "folder": "var",
    }


def log_from_a_fresh_process(
    tmp_path, *, command: str = "shell", **variables: str
) -> subprocess.CompletedProcess:
    """Start Kiroku in a new process with these variables and log one warning (or,
    with ``command="check"``, run the system checks)."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "KIROKU_LOG_FORMAT", "KIROKU_ENV"}
    }
    environment.update({"KIROKU_VAR_DIR": str(tmp_path), **variables})
    code = "import logging; logging.getLogger('kiroku.check').warning('disk %s full', 'var')"
    arguments = ["shell", "--no-imports", "-c", code] if command == "shell" else [command]
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_log_format_json_writes_json_lines(tmp_path):
    result = log_from_a_fresh_process(tmp_path, KIROKU_LOG_FORMAT="json")

    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert {key: value for key, value in line.items() if key != "time"} == {
        "level": "WARNING",
        "logger": "kiroku.check",
        "message": "disk var full",
        "request_id": None,
    }


def test_logs_are_text_by_default_in_development(tmp_path):
    result = log_from_a_fresh_process(tmp_path)

    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING kiroku\.check \[-\] disk var full",
        result.stderr.strip().splitlines()[-1],
    )


def test_logs_are_json_by_default_in_production(tmp_path):
    result = log_from_a_fresh_process(
        tmp_path, KIROKU_ENV="production", KIROKU_SECRET_KEY="k" + "0123456789abcdef" * 4
    )

    assert json.loads(result.stderr.strip().splitlines()[-1])["message"] == "disk var full"


def test_a_malformed_log_format_stops_start_up_naming_it(tmp_path):
    result = log_from_a_fresh_process(tmp_path, command="check", KIROKU_LOG_FORMAT="xml")

    assert result.returncode != 0
    assert "KIROKU_LOG_FORMAT must be one of json, text; got 'xml'" in result.stderr
