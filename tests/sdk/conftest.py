"""Fixtures for the SDK tests: a live server (real HTTP), a member's token, SDK
settings with small intervals, the fault proxy, and a reader over the API.

The SDK never imports Django; these tests drive it over HTTP exactly as a training
script would, and read what the server stored over HTTP too. The live server's threads
use connections of their own, as a real server's do (on SQLite the test database is a
file for that: tests/conftest.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import kiroku
import pytest
from django.test.testcases import QuietWSGIRequestHandler
from kiroku.settings import Settings

from tests.factories import make_token
from tests.sdk.proxy import FaultProxy

# Django's test server writes headers and body separately; with Nagle's algorithm on,
# every keep-alive answer then waits out the client's delayed ACK (40 ms).
QuietWSGIRequestHandler.disable_nagle_algorithm = True

# Small intervals keep the suite fast; each is a production setting.
FAST = {
    "timeout": 2.0,
    "init_timeout": 1.0,
    "flush_interval": 0.2,
    "heartbeat_interval": 1.0,
    "backoff_base": 0.05,
    "backoff_max": 0.3,
    "spool_after": 0.6,
    "finish_timeout": 20.0,
}


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """No settings leak in from the machine: a fresh config home and KIROKU_DIR."""
    for name in ("KIROKU_URL", "KIROKU_TOKEN", "KIROKU_PROJECT", "KIROKU_MODE", "KIROKU_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("KIROKU_DIR", str(tmp_path / "kiroku"))


@pytest.fixture(autouse=True)
def _no_run_left_open():
    """A test that fails midway leaves its run open; finish it here, not at exit."""
    yield
    from kiroku import lifecycle

    for run in lifecycle.open_runs():
        run.finish("killed", timeout=1.0)


@pytest.fixture
def kiroku_dir(tmp_path) -> Path:
    return tmp_path / "kiroku"


@pytest.fixture
def token(member, project) -> str:
    return make_token(member)


@pytest.fixture
def server(live_server) -> str:
    return live_server.url


@pytest.fixture
def settings(server, token, kiroku_dir) -> Settings:
    """Settings for a run against the live server as the member, in project vision."""
    return Settings(url=server, token=token, project="vision", dir=kiroku_dir, **FAST)


@pytest.fixture
def proxy(server):
    proxy = FaultProxy(server)
    yield proxy
    proxy.close()


@pytest.fixture
def via_proxy(settings, proxy) -> Settings:
    return settings.with_overrides(url=proxy.url)


@pytest.fixture
def reader(server, token):
    api = kiroku.Api(url=server, token=token)
    yield api
    api.close()


@pytest.fixture
def child_env(server, token, kiroku_dir, tmp_path) -> dict[str, str]:
    """The environment of a child process that runs a training script."""
    env = dict(os.environ)
    env.update(
        KIROKU_URL=server,
        KIROKU_TOKEN=token,
        KIROKU_PROJECT="vision",
        KIROKU_DIR=str(kiroku_dir),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        PYTHONUNBUFFERED="1",
    )
    return env


def run_points(reader, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(p["step"], p["value"]) for p in reader.run(run_id).history(key)]


def log_requests(proxy: FaultProxy):
    return [s for s in proxy.requests("/log") if s.method == "POST"]


PYTHON = sys.executable


# --- kiroku ci report against the live server and the loopback GitHub ----------------


@pytest.fixture
def kiroku_env(server, token, monkeypatch):
    """The CLI's URL and token, from the environment as a CI job gives them."""
    monkeypatch.setenv("KIROKU_URL", server)
    monkeypatch.setenv("KIROKU_TOKEN", token)


@pytest.fixture
def job(kiroku_env, fake_github, monkeypatch, tmp_path, capsys):
    """Returns a factory: ``job(run_id, pr=..., branch=...)`` sets up one job run."""
    from tests.sdk.ci_env import REPO, github_job

    fake_github.add_issue(REPO, 7)

    def make(run_id: int, **kwargs):
        return github_job(
            monkeypatch,
            tmp_path / f"job{run_id}",
            capsys,
            api_url=fake_github.url,
            run_id=run_id,
            **kwargs,
        )

    return make
