"""SDK overhead: what one ``run.log({"loss": x})`` costs a training loop, while the
server is healthy, slow (500 ms per request) and down, next to ``mlflow.log_metric``
(synchronous and ``synchronous=False``) against an MLflow server in the same states.

    .venv/bin/python -m bench.sdk_overhead                       # everything (~6 minutes)
    .venv/bin/python -m bench.sdk_overhead --skip mlflow --calls 200000

For each (client, server state) a fresh child process starts a run, logs a warm-up,
then makes ``--calls`` calls in a tight loop, each timed with ``perf_counter_ns`` (the
per-call figures: p50, p99, p99.9, max), after an untimed burst of ``--burst`` calls
(the calls-per-second figure, with no timer in the loop). A loop also stops after
``--seconds``, and a child whose single call is still blocked ``--seconds`` after the
loop began reports that and is ended (MLflow's synchronous client retries a refused
connection for minutes). Then the run is finished and the time that took is reported.

* healthy: straight to the server (``manage.py serve`` for Kiroku, ``mlflow server``);
* slow: through a loopback proxy that holds every request 500 ms before forwarding it;
* down: a port where nothing listens. Kiroku's run is started against it (``init``
  goes on offline and spools); MLflow cannot start a run without its server, so its
  run is started against the healthy server and the calls go to the dead port.

Every line printed is JSON; each names the 1-minute load average before and after,
since this machine may be shared. The Kiroku SDK comes from ``sdk/src``; MLflow from
``bench/.mlflow-venv`` (``bench/run_all.sh`` creates it). PostgreSQL (``BENCH_PG``,
default ``postgresql://postgres@127.0.0.1:5432``) holds both servers' data, in the
databases ``kiroku_sdkbench`` and ``mlflow_sdkbench``, dropped and recreated each time;
``--sqlite`` uses throwaway SQLite files instead.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / ".venv" / "bin" / "python"
MLFLOW_PY = ROOT / "bench" / ".mlflow-venv" / "bin" / "python"
MLFLOW_BIN = ROOT / "bench" / ".mlflow-venv" / "bin" / "mlflow"
PROJECT = "sdkbench"
STATES = ("healthy", "slow", "down")


def note(message: str) -> None:
    print(f"[sdk_overhead] {message}", file=sys.stderr, flush=True)


def load_1m() -> float:
    return round(os.getloadavg()[0], 2)


# --- the timed loop (runs in the child; standard library only) ------------------------


class Loop:
    """A timed loop: per-call latency of ``call(i)`` over up to ``calls`` calls (fewer
    when ``seconds`` run out: the deadline is checked before each call), after an
    untimed burst of ``burst`` calls that gives the calls-per-second figure."""

    def __init__(self, call: Any, *, calls: int, burst: int, seconds: float) -> None:
        self.call, self.calls, self.burst, self.seconds = call, calls, burst, seconds
        self.samples = array("q")
        self.result: dict[str, Any] = {}
        self.started = time.perf_counter_ns()

    def run(self) -> dict:
        clock = time.perf_counter_ns
        call = self.call
        if self.burst:
            started = clock()
            for i in range(self.burst):
                call(i)
            self.result["calls_per_s"] = round(self.burst / ((clock() - started) / 1e9))
        append = self.samples.append
        self.started = clock()
        deadline = self.started + int(self.seconds * 1e9)
        for i in range(self.calls):
            before = clock()
            if before > deadline:
                break
            call(i)
            append(clock() - before)
        return self.summary()

    def summary(self) -> dict:
        ordered = sorted(self.samples)
        elapsed = (time.perf_counter_ns() - self.started) / 1e9
        result = dict(self.result, timed_calls=len(ordered))
        if not ordered:
            return result

        def pct(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000, 2)

        result.update(
            {
                "timed_calls_per_s": round(len(ordered) / elapsed) if elapsed else None,
                "p50_us": pct(0.50),
                "p99_us": pct(0.99),
                "p999_us": pct(0.999),
                "max_us": round(ordered[-1] / 1000, 2),
                "over_1ms": sum(1 for s in ordered if s > 1_000_000),
            }
        )
        return result


def watchdog(seconds: float, record: dict, loop: Loop) -> threading.Timer:
    """Report what was measured and end the child if a single call is still blocked
    ``seconds`` after the loop began (cancel the returned timer once it is over)."""

    def fire() -> None:
        record.update(loop.summary())
        record.update({"blocked": True, "note": f"a call was still blocked after {seconds} s"})
        print(json.dumps(record), flush=True)
        os._exit(0)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


def child_kiroku(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT / "sdk" / "src"))
    import kiroku

    record: dict[str, Any] = {"client": "kiroku", "state": args.state}
    started = time.perf_counter()
    run = kiroku.init(
        project=PROJECT, url=args.url, token=args.token, name=f"overhead-{args.state}"
    )
    record["init_s"] = round(time.perf_counter() - started, 3)
    values = [0.5 + k * 1e-4 for k in range(1024)]
    log = run.log

    def call(i: int) -> None:
        log({"loss": values[i & 1023]})

    for i in range(10_000):
        call(i)
    loop = Loop(call, calls=args.calls, burst=args.burst, seconds=args.seconds)
    timer = watchdog(args.seconds + 60, record, loop)
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        record.update(profiler.runcall(loop.run))
        with open(f"{args.profile}-{args.state}.txt", "w") as handle:
            stats = pstats.Stats(profiler, stream=handle).sort_stats("cumulative")
            stats.print_stats(25)
    else:
        record.update(loop.run())
    timer.cancel()
    record["points_logged"] = 10_000 + args.burst + record["timed_calls"]
    started = time.perf_counter()
    run.finish()
    record["finish_s"] = round(time.perf_counter() - started, 3)
    print(json.dumps(record), flush=True)
    os._exit(0)


def child_mlflow(args: argparse.Namespace) -> None:
    import mlflow

    synchronous = args.mode == "sync"
    record: dict[str, Any] = {
        "client": f"mlflow-{args.mode}",
        "state": args.state,
        "mlflow": mlflow.__version__,
    }
    mlflow.set_tracking_uri(args.url)
    mlflow.set_experiment("sdk-overhead")
    started = time.perf_counter()
    mlflow.start_run(run_name=f"overhead-{args.mode}-{args.state}")
    record["init_s"] = round(time.perf_counter() - started, 3)
    if args.log_url != args.url:
        mlflow.set_tracking_uri(args.log_url)
    values = [0.5 + k * 1e-4 for k in range(1024)]

    def call(i: int) -> None:
        mlflow.log_metric("loss", values[i & 1023], step=i, synchronous=synchronous)

    if args.state == "healthy":
        for i in range(20):
            call(i)
    loop = Loop(call, calls=args.calls, burst=0, seconds=args.seconds)
    timer = watchdog(args.seconds + 10, record, loop)
    record.update(loop.run())
    timer.cancel()
    if args.state == "healthy":
        started = time.perf_counter()
        if not synchronous:
            mlflow.flush_async_logging()
        mlflow.end_run()
        record["finish_s"] = round(time.perf_counter() - started, 3)
    print(json.dumps(record), flush=True)
    os._exit(0)  # skip MLflow's exit hooks, which wait on a dead server


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


# --- the orchestrator ---------------------------------------------------------------------


def run_child(argv: list[str], *, env: dict, timeout: float) -> dict:
    load_before = load_1m()
    try:
        done = subprocess.run(
            argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s", "load_1m_before": load_before}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {
            "error": f"exit {done.returncode}: {done.stderr.strip()[-800:]}",
            "load_1m_before": load_before,
        }
    record = json.loads(lines[-1])
    record.update({"load_1m_before": load_before, "load_1m_after": load_1m()})
    return record


def emit(record: dict, out: Path | None) -> None:
    line = json.dumps({"bench": "sdk_overhead", **record})
    print(line, flush=True)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def main(args: argparse.Namespace) -> None:
    out = Path(args.out) if args.out else None
    emit(
        {
            "env": True,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_1m_at_start": load_1m(),
            "calls": args.calls,
            "burst": args.burst,
            "delay_s": args.delay,
        },
        out,
    )
    workdir = Path(tempfile.mkdtemp(prefix="kiroku-sdkbench-"))
    servers = Servers(workdir, sqlite=args.sqlite)
    try:
        if "kiroku" not in args.skip:
            note("starting Kiroku (migrate, admin, token, serve)")
            url, token = servers.kiroku()
            proxy = DelayProxy(url, args.delay)
            targets = {"healthy": url, "slow": proxy.url, "down": dead_url()}
            for state in STATES:
                note(f"kiroku, server {state}")
                kiroku_dir = workdir / f"kiroku-dir-{state}"
                env = dict(os.environ, KIROKU_DIR=str(kiroku_dir))
                argv = [str(PY), "-m", "bench.sdk_overhead", "--child", "kiroku"]
                argv += ["--state", state, "--url", targets[state], "--token", token]
                argv += ["--calls", str(args.calls), "--burst", str(args.burst)]
                argv += ["--seconds", str(args.seconds)]
                if args.profile:
                    argv += ["--profile", str(Path(args.profile).resolve())]
                record = run_child(argv, env=env, timeout=args.seconds + 400)
                held = arrived(url, token, f"overhead-{state}")
                record.update({f"{k}_after_finish": v for k, v in held.items()})
                if held["server_points"] < record.get("points_logged", 0):
                    # finish() gave up waiting (finish_timeout) and left the rest spooled.
                    note(f"kiroku sync of the {state} run's spool, server healthy")
                    record.update(sync_spool(url, token, kiroku_dir))
                    record.update(arrived(url, token, f"overhead-{state}"))
                emit(record, out)
            proxy.close()
        if "mlflow" not in args.skip:
            if not MLFLOW_PY.exists():
                raise SystemExit(f"{MLFLOW_PY} is missing: run bench/run_all.sh once")
            note("starting MLflow")
            url = servers.mlflow()
            proxy = DelayProxy(url, args.delay)
            targets = {"healthy": url, "slow": proxy.url, "down": dead_url()}
            for state in STATES:
                for mode in ("sync", "async"):
                    note(f"mlflow {mode}, server {state}")
                    argv = [str(MLFLOW_PY), "-m", "bench.sdk_overhead", "--child", "mlflow"]
                    argv += ["--mode", mode, "--state", state, "--url", url]
                    argv += ["--log-url", targets[state], "--calls", str(args.mlflow_calls)]
                    argv += ["--burst", "0", "--seconds", str(args.mlflow_seconds)]
                    emit(run_child(argv, env=dict(os.environ), timeout=600), out)
            proxy.close()
    finally:
        servers.stop_all()
        note(f"server logs in {workdir}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000, help="timed calls per case")
    parser.add_argument("--burst", type=int, default=200_000, help="untimed calls (calls/s)")
    parser.add_argument("--seconds", type=float, default=30.0, help="a timed loop's limit")
    parser.add_argument("--mlflow-calls", type=int, default=20_000, help="MLflow's timed calls")
    parser.add_argument(
        "--mlflow-seconds", type=float, default=20.0, help="an MLflow timed loop's limit"
    )
    parser.add_argument("--delay", type=float, default=0.5, help="the slow server's delay")
    parser.add_argument("--skip", nargs="*", default=[], choices=["kiroku", "mlflow"])
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--out", help="also append the JSON lines to this file")
    parser.add_argument(
        "--profile",
        help="cProfile Kiroku's timed loops; writes PROFILE-<state>.txt (times are inflated)",
    )
    # Child processes (one per measured case).
    parser.add_argument("--child", choices=["kiroku", "mlflow"], help=argparse.SUPPRESS)
    parser.add_argument("--state", choices=STATES, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=["sync", "async"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--log-url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.child == "kiroku":
        child_kiroku(arguments)
    elif arguments.child == "mlflow":
        child_mlflow(arguments)
    else:
        main(arguments)
