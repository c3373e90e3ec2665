"""The embedded default under the SDK's normal concurrency: eight training scripts log
metrics in batches and upload artifacts through the local artifact store, all at once,
to one server process on its SQLite file, started as ``make run`` starts it (WAL, a
busy timeout, write transactions that take the lock up front). The server answers no
5xx, and every point and every artifact is there afterwards.

The server is a child process (tests/sdk/embedded_server.py), not the test's live
server, so the test runs what users run whatever database the suite uses; its 5xx
answers and errors are read from its own log."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import kiroku
import pytest
from django.db import connection
from kiroku.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 8
STEPS = 120
# A pause between steps, so each run's points go out in many batches (flush_interval)
# while the other runs' batches and uploads are in flight.
STEP_PAUSE = 0.01
KiB = 1024
STARTED = re.compile(r"Starting development server at (http://127\.0\.0\.1:\d+)/")


@dataclass(frozen=True)
class Server:
    url: str
    token: str
    log: Path


def _child_env(var_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("KIROKU_") and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(KIROKU_VAR_DIR=str(var_dir), KIROKU_LOG_FORMAT="json", PYTHONUNBUFFERED="1")
    return env


@pytest.fixture
def embedded_server(tmp_path) -> Iterator[Server]:
    """The embedded default in a child process on a port of its own choosing."""
    out, log = tmp_path / "server.out", tmp_path / "server.log"
    with out.open("w") as stdout, log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.sdk.embedded_server"],
            cwd=ROOT,
            env=_child_env(tmp_path / "var"),
            stdout=stdout,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 120  # migrations on a busy 2-core machine
        while (started := STARTED.search(out.read_text())) is None:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{out.read_text()}\n{log.read_text()}")
            time.sleep(0.1)
        token = re.search(r"^token (\S+)$", out.read_text(), re.MULTILINE).group(1)
        yield Server(url=started.group(1), token=token, log=log)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _metrics(writer: int, step: int) -> dict[str, float]:
    return {
        "loss": 1.0 / (step + 1) + writer,
        "acc": step / STEPS,
        "lr": 0.001 * (writer + 1),
        "grad/norm": float(step * writer),
    }


def _train(server: Server, writer: int, folder: Path) -> tuple[str, dict[str, tuple[int, str]]]:
    """One training script: metrics every step; a checkpoint logged twice under one
    name (version 2 must be the latest) and an evaluation folder. Returns the run id
    and the files it uploaded, ``{path: (size, sha256)}``."""
    folder.mkdir()
    checkpoint = folder / "model.pt"
    checkpoint.write_bytes(hashlib.sha256(f"weights {writer}".encode()).digest() * (8 * KiB))
    report = folder / "eval" / "report.txt"
    report.parent.mkdir()
    report.write_text(f"writer {writer}: accuracy 0.9{writer}\n")
    (folder / "eval" / "confusion.csv").write_text("a,b\n" * (writer + 1) * 100)

    settings = Settings(
        url=server.url,
        token=server.token,
        project="vision",
        dir=folder / "kiroku",
        flush_interval=0.1,
        heartbeat_interval=0.5,
        backoff_base=0.05,
        backoff_max=0.5,
    )
    with kiroku.init(
        settings=settings, name=f"writer-{writer}", capture=False, handle_signals=False
    ) as run:
        for step in range(STEPS):
            run.log(_metrics(writer, step), step=step)
            if step in (STEPS // 3, 2 * STEPS // 3):
                run.log_artifact(checkpoint)
            time.sleep(STEP_PAUSE)
        run.log_artifact(folder / "eval")

    def described(path: Path) -> tuple[int, str]:
        return path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest()

    return run.id, {
        "model.pt": described(checkpoint),
        "eval/report.txt": described(report),
        "eval/confusion.csv": described(folder / "eval" / "confusion.csv"),
    }


def _server_records(log: Path) -> list[dict]:
    """The server's JSON log records (runserver's own banner lines are not JSON)."""
    records = []
    for line in log.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def test_eight_writers_with_uploads_get_no_5xx_and_lose_nothing(embedded_server, tmp_path):
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        results = list(
            pool.map(
                lambda writer: _train(embedded_server, writer, tmp_path / f"writer-{writer}"),
                range(WRITERS),
            )
        )

    records = _server_records(embedded_server.log)
    answers = [r for r in records if r.get("logger") == "kiroku.request"]
    failures = [
        f"{r.get('status', r['level'])} {r['logger']}: {r['message'][:300]}"
        for r in records
        if r.get("level") in {"ERROR", "CRITICAL"} or r.get("status", 0) >= 500
    ]
    assert failures == []
    # The writers really overlapped: each run sent its points in several batches while
    # the others were sending, not one at the end. (How many depends on how fast the
    # server answers: a loaded machine gets fewer, larger batches.)
    batches = Counter(
        r["path"] for r in answers if r["method"] == "POST" and r["path"].endswith("/log")
    )
    assert len(batches) == WRITERS and min(batches.values()) >= 2, batches

    reader = kiroku.Api(url=embedded_server.url, token=embedded_server.token)
    try:
        for writer, (run_id, files) in enumerate(results):
            run = reader.run(run_id)
            assert run.status == "FINISHED"
            for key in _metrics(writer, 0):
                expected = [(step, _metrics(writer, step)[key]) for step in range(STEPS)]
                assert [(p["step"], p["value"]) for p in run.history(key)] == expected
            listed = {a["path"]: (a["size"], a["sha256"], a["version"]) for a in run.artifacts()}
            assert listed == {
                "model.pt": (*files["model.pt"], 2),
                "eval/report.txt": (*files["eval/report.txt"], 1),
                "eval/confusion.csv": (*files["eval/confusion.csv"], 1),
            }
    finally:
        reader.close()


def test_the_live_servers_threads_use_connections_of_their_own(live_server):
    # With SQLite's in-memory test database, the live server's threads either share
    # the test's own connection, interleaving their transactions on it, or hold
    # connections whose table locks fail at once instead of waiting; so on SQLite the
    # test database is a file (tests/conftest.py, django_db_modify_db_settings).
    assert live_server.thread.connections_override == {}
    assert connection.vendor != "sqlite" or not connection.is_in_memory_db()
