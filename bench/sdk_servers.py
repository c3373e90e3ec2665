"""The servers bench.sdk_overhead measures against: Kiroku, MLflow, and a loopback
proxy that makes a server slow."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.sdk_child import MLFLOW_BIN, PROJECT, PY, ROOT

# --- the loopback proxy that makes a server slow ----------------------------------------


class DelayProxy:
    """Forwards every request to ``upstream`` after holding it ``delay`` seconds."""

    def __init__(self, upstream: str, delay: float) -> None:
        host, port = upstream.removeprefix("http://").rstrip("/").split(":")
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if body is not None and len(body) < length:
                    self.close_connection = True  # the client died mid-request
                    return
                time.sleep(proxy.delay)
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "connection", "content-length")
                }
                upstream_conn = http.client.HTTPConnection(host, int(port), timeout=600)
                try:
                    upstream_conn.request(self.command, self.path, body=body, headers=headers)
                    reply = upstream_conn.getresponse()
                    data = reply.read()
                finally:
                    upstream_conn.close()
                try:
                    self.send_response(reply.status)
                    for key, value in reply.getheaders():
                        if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up waiting: fine

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = relay

        self.delay = delay
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def dead_url() -> str:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- servers ---------------------------------------------------------------------------


class Servers:
    """Starts and stops the Kiroku and MLflow servers, each in its own session."""

    def __init__(self, workdir: Path, *, sqlite: bool) -> None:
        self.workdir = workdir
        self.sqlite = sqlite
        self.pg = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
        self.children: list[subprocess.Popen] = []

    def database(self, name: str) -> str:
        if self.sqlite:
            return f"sqlite:///{self.workdir / name}.sqlite3"
        import psycopg

        with psycopg.connect(f"{self.pg}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
        return f"{self.pg}/{name}"

    def spawn(self, argv: list[str], *, env: dict, log_name: str) -> subprocess.Popen:
        log = (self.workdir / log_name).open("wb")
        child = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.children.append(child)
        return child

    def kiroku(self) -> tuple[str, str]:
        """Start Kiroku; returns (url, token) of its admin, with the project created."""
        env = dict(os.environ)
        env["KIROKU_VAR_DIR"] = str(self.workdir / "kiroku-var")
        env["DATABASE_URL"] = self.database("kiroku_sdkbench")
        env.pop("REDIS_URL", None)
        manage = [str(PY), "manage.py"]
        subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        subprocess.run(
            [*manage, "ensure_admin"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        token = subprocess.run(
            [*manage, "create_token", "admin"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        url = f"http://127.0.0.1:{free_port()}"
        self.spawn([*manage, "serve", url.removeprefix("http://")], env=env, log_name="kiroku.log")
        wait_http(f"{url}/api/schema/", "kiroku", self.workdir / "kiroku.log")
        import httpx

        answer = httpx.post(
            f"{url}/api/v1/projects",
            json={"slug": PROJECT, "name": "SDK overhead"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        answer.raise_for_status()
        return url, token

    def mlflow(self) -> str:
        store = self.database("mlflow_sdkbench")
        if store.startswith("postgresql://"):
            # SQLAlchemy 2.1 defaults postgresql:// to psycopg 3; name the installed driver.
            store = store.replace("postgresql://", "postgresql+psycopg2://", 1)
        port = free_port()
        artifacts = self.workdir / "mlflow-artifacts"
        artifacts.mkdir(exist_ok=True)
        self.spawn(
            [
                str(MLFLOW_BIN),
                "server",
                "--backend-store-uri",
                store,
                "--artifacts-destination",
                str(artifacts),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            env=dict(os.environ),
            log_name="mlflow.log",
        )
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/health", "mlflow", self.workdir / "mlflow.log")
        return url

    def stop_all(self) -> None:
        for child in self.children:
            try:
                os.killpg(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        self.children.clear()


def wait_http(url: str, name: str, log: Path) -> None:
    import httpx

    for _ in range(180):
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit(f"{name} did not answer at {url}; see {log}")


def arrived(url: str, token: str, name: str) -> dict:
    """What the server holds of the run named ``name``: its status and how many
    ``loss`` points, so a fast log() that lost data would show."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        listing = http.get(f"/api/v1/projects/{PROJECT}/runs").json()["results"]
        found = [r for r in listing if r.get("name") == name]
        if not found:
            return {"server_status": None, "server_points": 0}
        run = http.get(f"/api/v1/runs/{found[0]['id']}").json()
    loss = (run.get("metrics") or {}).get("loss") or {}
    return {"server_status": run.get("status"), "server_points": loss.get("count", 0)}


def sync_spool(url: str, token: str, kiroku_dir: Path) -> dict:
    """``kiroku sync`` of what the run left in its spool, once the server is back."""
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'sdk' / 'src')!r}); "
        "from kiroku.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    argv = [str(PY), "-c", code, "sync", "-q", "--dir", str(kiroku_dir)]
    started = time.perf_counter()
    done = subprocess.run(
        [*argv, "--url", url, "--token", token], capture_output=True, text=True, timeout=900
    )
    record: dict[str, Any] = {"sync_s": round(time.perf_counter() - started, 2)}
    if done.returncode:
        record["sync_error"] = f"exit {done.returncode}: {done.stderr.strip()[-300:]}"
    return record
