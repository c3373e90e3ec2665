"""How ``make run`` starts: ``manage.py serve --ensure-admin HOST:PORT`` after the
migrations. A taken port stops it with the variable that changes it; the new admin's
password is framed as the last lines before the server starts; later starts say how
to get a new password; links point at the port served.

Each test runs the real command as a child process on a free port, against a copy of
a SQLite database migrated once for the module."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.child_server import ChildServer, env_without_kiroku, free_port
from tests.core.admin_block import admin_block_text

ROOT = Path(__file__).resolve().parents[2]
MANAGE = [sys.executable, "manage.py"]
PERIODIC = "Periodic jobs run in-process (no REDIS_URL configured)."


def child_env(var_dir: Path) -> dict[str, str]:
    return env_without_kiroku(KIROKU_VAR_DIR=str(var_dir))


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    """A var folder with a migrated SQLite database and no users."""
    var_dir = tmp_path_factory.mktemp("migrated")
    subprocess.run(
        [*MANAGE, "migrate", "-v0"], cwd=ROOT, env=child_env(var_dir), check=True, timeout=180
    )
    return var_dir


@pytest.fixture
def var_dir(migrated, tmp_path) -> Path:
    copy = tmp_path / "var"
    shutil.copytree(migrated, copy)
    return copy


def start_serve(var_dir: Path, *args: str) -> ChildServer:
    """``manage.py serve ARGS 127.0.0.1:<free port>``; its ``lines`` are its stdout."""
    port = free_port()
    command = [*MANAGE, "serve", *args, f"127.0.0.1:{port}"]
    return ChildServer(command, cwd=ROOT, env=child_env(var_dir), port=port, with_stderr=False)


@pytest.fixture
def serve() -> Iterator:
    started: list[ChildServer] = []

    def start(var_dir: Path, *args: str) -> ChildServer:
        served = start_serve(var_dir, *args)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


def sign_in(base: str, username: str, password: str) -> httpx.Response:
    """The portal's sign-in form, posted as a browser does (CSRF cookie and field)."""
    with httpx.Client(base_url=base, timeout=10) as client:
        page = client.get("/login")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        return client.post(
            "/login",
            data={"csrfmiddlewaretoken": token, "username": username, "password": password},
            headers={"Referer": f"{base}/login"},
        )


def test_a_taken_port_stops_serve_with_the_variable_that_changes_it(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        done = subprocess.run(
            [*MANAGE, "serve", "--ensure-admin", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=child_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )

    match = re.fullmatch(
        rf"CommandError: port {port} on 127\.0\.0\.1 is taken \(another program listens "
        rf"there\); choose another port with PORT=, e\.g\. `make run PORT=(\d+)` \(or "
        rf"`manage\.py serve 127\.0\.0\.1:(\d+)`\); HOST= changes the address\n",
        done.stderr,
    )
    assert (done.returncode, done.stdout, bool(match)) == (1, "", True), done.stderr
    suggested = int(match.group(1))
    assert suggested == int(match.group(2)) and suggested > port


def test_the_new_admin_password_is_framed_last_before_the_server_starts(var_dir, serve):
    served = serve(var_dir, "--ensure-admin")

    lines = served.wait_started()

    top = lines.index(next(line for line in lines if line.startswith("+--")))
    bottom = lines.index(lines[top], top + 1)
    block = [line[3:-3].rstrip() for line in lines[top + 1 : bottom]]
    password = block[4].split()[-1]
    assert lines[:top] == [PERIODIC]
    assert block == admin_block_text(f"{served.base}/login", password)
    # After the block: a blank line, then Django's own lines (date, version, address).
    assert lines[bottom + 1] == ""
    assert lines[bottom + 3].startswith("Django version ")
    assert lines[bottom + 4] == f"Starting development server at {served.base}/"
    signed_in = sign_in(served.base, "admin", password)
    assert (signed_in.status_code, signed_in.headers.get("location")) == (302, "/projects")


def test_a_later_start_says_the_admin_exists_and_how_to_get_a_new_password(var_dir, serve):
    subprocess.run(
        [*MANAGE, "ensure_admin"], cwd=ROOT, env=child_env(var_dir), check=True, timeout=120
    )

    lines = serve(var_dir, "--ensure-admin").wait_started()

    assert lines[:3] == [
        PERIODIC,
        "The admin account 'admin' exists (its password was shown when it was made). "
        "Lost it? `make admin-password` (or `manage.py ensure_admin --reset`) prints a new one.",
        "",
    ]
    assert lines[4].startswith("Django version ")


def test_links_point_at_the_port_served_when_kiroku_base_url_is_unset(var_dir, serve):
    env = child_env(var_dir)
    subprocess.run([*MANAGE, "ensure_admin"], cwd=ROOT, env=env, check=True, timeout=120)
    token = subprocess.run(
        [*MANAGE, "create_token", "admin"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.split()[-1]
    served = serve(var_dir)
    served.wait_started()
    api = httpx.Client(
        base_url=f"{served.base}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )

    with api:
        api.post("/projects", json={"slug": "vision", "name": "Vision"}).raise_for_status()
        run = api.post("/projects/vision/runs", json={"name": "r"}).json()

    assert run["url"] == f"{served.base}/projects/vision/runs/{run['id']}"
