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
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path

from bench import common
from bench.sdk_child import (
    MLFLOW_PY,
    PY,
    ROOT,
    STATES,
    load_1m,
    note,
)
from bench.sdk_servers import (
    DelayProxy,
    Servers,
    arrived,
    dead_url,
    sync_spool,
)

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
    common.emit({"bench": "sdk_overhead", **record}, out)


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
                argv = [str(PY), "-m", "bench.sdk_child", "kiroku"]
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
                    argv = [str(MLFLOW_PY), "-m", "bench.sdk_child", "mlflow"]
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
    return parser.parse_args()


if __name__ == "__main__":
    main(parse())
