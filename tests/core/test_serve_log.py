"""``manage.py serve`` (what ``make run`` starts: Django's development server) writes
its request lines with the secret URL parts masked, as the access log does: share
links, store tickets, invitations, password-reset links, and query strings (a
``?next=`` can hold any of them)."""

from __future__ import annotations

import http.client
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(base: str, path: str) -> int:
    """The status of ``GET path`` (redirects not followed)."""
    connection = http.client.HTTPConnection(urlsplit(base).netloc, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def wait_until_serving(base: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"manage.py serve exited with {server.returncode}")
        try:
            get(base, "/healthz")
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"manage.py serve did not answer at {base} in {seconds} s")


def request_lines(stderr: str) -> list[str]:
    """From "<time> INFO django.server [-] "GET /s/<token> HTTP/1.1" 404 806": the
    request line and status (the size is not these tests' business); /healthz left out."""
    return [
        line.split(" [-] ", 1)[1].rsplit(" ", 1)[0]
        for line in stderr.splitlines()
        if " django.server " in line and "/healthz" not in line
    ]


@pytest.fixture
def served(tmp_path):
    """``manage.py serve`` on a free loopback port (SQLite and var/ in tmp_path, no
    Redis); yields ``(base_url, read_stderr)``."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("KIROKU_") and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    environment["KIROKU_VAR_DIR"] = str(tmp_path)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=environment, check=True, timeout=120)
    port = free_port()
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen(
        [*manage, "serve", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, server)

        def read_stderr(requests: int) -> str:
            """The log once it holds a line for each of ``requests`` (each line is
            written after its response is sent)."""
            deadline = time.monotonic() + 10
            while True:
                log.seek(0)
                text = log.read()
                if len(request_lines(text)) >= requests or time.monotonic() > deadline:
                    return text
                time.sleep(0.05)

        yield base, read_stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_the_development_server_masks_secret_url_parts(served):
    base, read_stderr = served
    share, invite = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    ticket = "tkt." + secrets.token_urlsafe(24)
    reset = "cf1b2z-" + secrets.token_hex(16)
    requests = {
        f"/s/{share}": '"GET /s/<token> HTTP/1.1" 404',
        f"/s/{share}/metrics": '"GET /s/<token>/metrics HTTP/1.1" 404',
        f"/store/{ticket}": '"GET /store/<ticket> HTTP/1.1" 403',
        f"/invite/{invite}": '"GET /invite/<token> HTTP/1.1" 404',
        f"/password-reset/MQ/{reset}": '"GET /password-reset/MQ/<token> HTTP/1.1" 200',
        f"/login?next=/invite/{invite}": '"GET /login HTTP/1.1" 200',
        "/projects": '"GET /projects HTTP/1.1" 302',
    }
    for path, line in requests.items():
        assert (path, get(base, path)) == (path, int(line.rsplit(" ", 1)[1]))

    stderr = read_stderr(len(requests))

    # The server's threads write their lines as they finish, not always in the order
    # the requests were made.
    assert sorted(request_lines(stderr)) == sorted(requests.values())
    for secret in (share, invite, ticket, reset):
        assert secret not in stderr


def test_other_request_lines_in_server_messages_are_masked_too():
    token = secrets.token_urlsafe(32)
    server_log = logging.getLogger("django.server")
    capture = logging.Handler()
    records: list[str] = []
    capture.emit = lambda record: records.append(record.getMessage())
    server_log.addHandler(capture)
    try:
        # What http.server logs for a malformed request line.
        for problem in (f"syntax ('GET /s/{token} x')", f"version ('GET /s/{token} HTTP/9')"):
            server_log.info("code %d, message %s", 400, f"Bad request {problem}")
        server_log.info('"%s" %s %s', f"POST /invite/{token}?a=1 HTTP/1.0", "302", "0")
    finally:
        server_log.removeHandler(capture)

    assert records == [
        "code 400, message Bad request syntax ('GET /s/<token> x')",
        "code 400, message Bad request version ('GET /s/<token> HTTP/9')",
        '"POST /invite/<token> HTTP/1.0" 302 0',
    ]
