"""Load test: many SDK clients logging at once against gunicorn + PostgreSQL while a
reader polls, then every point sent checked against what the database holds; again
with a gunicorn worker killed and with PostgreSQL restarted halfway through.

    .venv/bin/python -m bench.load                                   # 3 x 5 minutes
    .venv/bin/python -m bench.load --duration 20 --clients 4 --scenario steady

Everything runs in a private PostgreSQL cluster (``initdb`` in a scratch folder, a
random loopback port; never the machine's shared server), migrated once into a
template database; each scenario gets a fresh copy of it and its own gunicorn
(``config/gunicorn.py``, ``--workers`` sync workers, KIROKU_ENV=development, no
Redis: Celery tasks run in-process, throttle counters per process).

Per scenario: ``--clients`` processes (bench/load_client.py) each start a run and, at
a common start time, log ``--keys`` metrics a step at ``--rate`` steps a second for
``--duration`` seconds, then finish (``--finish-timeout``); a reader thread polls
the runs table and a run's chart. At the midpoint: nothing (``steady``), SIGKILL of a
gunicorn worker serving a client's request (``kill-worker``, ``--kills`` times a second
apart; the master replaces it), or PostgreSQL stopped fast, down ``--db-outage``
seconds and started again (``restart-db``; ``--db-outage 0``: ``pg_ctl restart -m
fast``). A spool a client leaves is uploaded with ``kiroku sync``. Then the database is
read back (bench/load_check.py).

Prints JSON lines (``load_env``, then per scenario one ``load`` line and
``load_phase`` lines: before the fault, the 30 s from it, after) and appends them to
``bench/results/load-<time>.jsonl``. bench/README.md, "Load test", has the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import common
from bench.load_check import check_points, retries_replayed, scenario_records
from bench.load_client import PROJECT
from bench.load_procs import Gunicorn, LoadAverage, Reader
from bench.pgcluster import PgCluster
from bench.sdk_child import PY, ROOT
from bench.sdk_servers import sync_spool

SCENARIOS = ("steady", "kill-worker", "restart-db")
TEMPLATE, DATABASE = "kiroku_load_template", "kiroku_load"


def note(message: str) -> None:
    common.note(f"load: {message}")


def server_env(workdir: Path, database_url: str) -> dict[str, str]:
    """The environment of manage.py and gunicorn: this machine's, without any Kiroku,
    database, Redis or metrics setting it may carry, plus the cluster's database."""
    dropped = ("KIROKU_", "DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(
        DATABASE_URL=database_url,
        KIROKU_VAR_DIR=str(workdir / "var"),
        KIROKU_ENV="development",
    )
    return env


def manage(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(
        [str(PY), "manage.py", *argv], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"manage.py {argv[0]} failed: {done.stderr.strip()[-1500:]}")
    return done.stdout.strip()


def prepare(cluster: PgCluster, workdir: Path) -> str:
    """Migrate the template database and create the admin and its token (returned)."""
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
    env = server_env(workdir, cluster.url(TEMPLATE))
    manage(env, "migrate", "-v", "0")
    manage(env, "ensure_admin")
    return manage(env, "create_token", "admin", "--name", "load").splitlines()[-1].strip()


def fresh_database(cluster: PgCluster) -> str:
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE} TEMPLATE {TEMPLATE}")
    return cluster.url(DATABASE)


def start_clients(
    args: argparse.Namespace, workdir: Path, url: str, token: str, clients: list[dict]
) -> None:
    """Start the client processes (added to ``clients`` as they start, so the caller
    can end them whatever happens); return once each has created its run."""
    for index in range(args.clients):
        folder = workdir / f"client-{index}"
        folder.mkdir()
        argv = [str(PY), "-m", "bench.load_client", "--client", str(index), "--url", url]
        argv += ["--dir", str(folder), "--duration", str(args.duration)]
        argv += ["--keys", str(args.keys), "--rate", str(args.rate)]
        argv += ["--finish-timeout", str(args.finish_timeout)]
        # The token travels in the environment, not on the command line; no other
        # KIROKU_* setting of this machine (a KIROKU_MODE, say) reaches the client.
        env = {k: v for k, v in os.environ.items() if not k.startswith("KIROKU_")}
        env["KIROKU_TOKEN"] = token
        with (folder / "stderr.log").open("wb") as stderr:
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=env,
            )
        clients.append({"index": index, "process": process, "dir": folder})
    for client in clients:
        if not client["process"].stdout.readline().startswith('{"ready"'):
            raise SystemExit(f"client {client['index']} did not start; see {client['dir']}")


def collect(client: dict, timeout: float) -> dict[str, Any] | None:
    process: subprocess.Popen = client["process"]
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def wait_ready(url: str, timeout: float = 60) -> float:
    """Seconds until ``/readyz`` answers 200 (the database reachable again)."""
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return round(time.perf_counter() - began, 3)


def fault(
    scenario: str, server: Gunicorn, cluster: PgCluster, record: dict, args: argparse.Namespace
) -> None:
    """The scenario's fault, at the midpoint: ``--kills`` worker kills a second apart,
    or PostgreSQL's restart; what happened goes into ``record`` (a failure too: the
    thread it runs in would otherwise end silently)."""
    try:
        _fault(scenario, server, cluster, record, args)
    except (Exception, SystemExit) as exc:
        record["error"] = f"{type(exc).__name__}: {exc}"[:500]


def _fault(
    scenario: str, server: Gunicorn, cluster: PgCluster, record: dict, args: argparse.Namespace
) -> None:
    began = time.time()
    record["at_s"] = round(began - record.pop("start"), 2)
    if scenario == "kill-worker":
        kills = []
        for index in range(args.kills):
            time.sleep(max(0.0, began + index - time.time()))
            kills.append(server.kill_busy_worker())
        if len(kills) == 1:
            record.update(kills[0])
        else:
            record["kills"] = len(kills)
            record["in_request"] = sum(1 for k in kills if k["in_request"])
            record["replaced_after_s_max"] = max(k["replaced_after_s"] for k in kills)
    elif scenario == "restart-db":
        record["outage_s"] = args.db_outage
        record.update(cluster.restart(args.db_outage))
        record["ready_after_s"] = wait_ready(server.url)


def run_scenario(
    scenario: str, args: argparse.Namespace, cluster: PgCluster, workdir: Path, token: str
) -> list[dict[str, Any]]:
    """One scenario on a fresh database; returns its JSON records."""
    database_url = fresh_database(cluster)
    folder = workdir / scenario
    folder.mkdir()
    server = Gunicorn(
        folder, server_env(workdir, database_url), workers=args.workers, name=scenario
    ).start()
    load = LoadAverage()
    load.start()
    clients: list[dict] = []
    try:
        httpx.post(
            f"{server.url}/api/v1/projects",
            json={"slug": PROJECT, "name": "Load test"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).raise_for_status()
        note(f"{scenario}: starting {args.clients} clients")
        start_clients(args, folder, server.url, token, clients)
        start = time.time() + 1.0
        for client in clients:
            client["process"].stdin.write(f"GO {start}\n")
            client["process"].stdin.close()
            client["process"].stdin = None  # so communicate() leaves it alone
        reader = Reader(
            server.url,
            token,
            PROJECT,
            start=start,
            until=start + args.duration,
            interval=args.read_interval,
        )
        reader.start()
        fault_record: dict[str, Any] = {"kind": scenario, "start": start}
        if scenario != "steady":
            timer = threading.Timer(
                start + args.duration / 2 - time.time(),
                fault,
                args=(scenario, server, cluster, fault_record, args),
            )
            timer.start()
        note(f"{scenario}: logging for {args.duration:g} s")
        results = [collect(c, args.duration + args.finish_timeout + 180) for c in clients]
        reader.stop.set()
        reader.join()
        if scenario != "steady":
            timer.join()
        fault_record.pop("start", None)
        failed = [c["index"] for c, r in zip(clients, results, strict=True) if r is None]
        finished = [r for r in results if r is not None]
        if args.keep:  # every request's sample, for a closer look
            for result in finished:
                path = folder / f"client-{result['client']}" / "result.json"
                path.write_text(json.dumps(result))
        syncs = []
        for result in finished:
            if result["spool_left"]:
                note(f"{scenario}: kiroku sync of client {result['client']}'s spool")
                folder_of = folder / f"client-{result['client']}"
                synced = sync_spool(server.url, token, folder_of)
                syncs.append({"client": result["client"], **synced})
        note(f"{scenario}: checking the database")
        checked = check_points(database_url, finished)
        checked.update(retries_replayed(database_url, finished, start))
    finally:
        for client in clients:
            if client["process"].poll() is None:
                client["process"].kill()
                client["process"].wait()
        server.stop()
        load.stop.set()
    return scenario_records(
        scenario,
        args,
        finished,
        failed=failed,
        reader_samples=reader.samples,
        reader_bad_answers=reader.bad_answers,
        fault_record=fault_record,
        syncs=syncs,
        checked=checked,
        load=load.summary(),
    )


def main(args: argparse.Namespace) -> None:
    out = Path(args.out) if args.out else common.RESULTS_DIR / f"load-{common.stamp()}.jsonl"
    scenarios = SCENARIOS if args.scenario == "all" else (args.scenario,)
    workdir = Path(tempfile.mkdtemp(prefix="kiroku-load-"))
    cluster = PgCluster(workdir)
    ok = False
    try:
        note(f"private PostgreSQL cluster in {workdir}")
        cluster.init().start()
        note(f"PostgreSQL on 127.0.0.1:{cluster.port}; migrating the template database")
        token = prepare(cluster, workdir)
        common.emit(
            {
                "bench": "load_env",
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "postgres": cluster.version(),
                "load_1m": round(os.getloadavg()[0], 2),
                "scenarios": list(scenarios),
            },
            out,
        )
        for scenario in scenarios:
            for record in run_scenario(scenario, args, cluster, workdir, token):
                common.emit(record, out)
        ok = True
    finally:
        cluster.stop()
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            note(f"logs and data kept in {workdir}")
    note(f"results in {out}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of logging")
    parser.add_argument("--clients", type=int, default=20, help="SDK client processes")
    parser.add_argument("--keys", type=int, default=50, help="metric keys a step")
    parser.add_argument("--rate", type=float, default=10.0, help="steps a second per client")
    parser.add_argument("--scenario", choices=["all", *SCENARIOS], default="all")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--read-interval", type=float, default=0.5, help="the reader's pause")
    parser.add_argument(
        "--finish-timeout", type=float, default=300.0, help="how long finish() may take"
    )
    parser.add_argument(
        "--kills",
        type=int,
        default=1,
        help="kill-worker: how many workers to kill, one a second from the midpoint",
    )
    parser.add_argument(
        "--db-outage",
        type=float,
        default=15.0,
        help="restart-db: seconds PostgreSQL stays down (default 15, longer than the SDK's "
        "10 s spool_after, so clients spool; 0: pg_ctl restart -m fast)",
    )
    parser.add_argument("--out", help="the JSON lines file (default bench/results/load-*.jsonl)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    return parser.parse_args()


if __name__ == "__main__":
    main(parse())
