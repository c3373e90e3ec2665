"""How a run ends when its process ends: clean exit, uncaught exception, SIGTERM (with
and without an earlier handler), SIGKILL (CRASHED after the heartbeat timeout, then
resumed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import timedelta

import kiroku
import pytest

from tests.sdk.conftest import FAST, PYTHON

SCRIPT = """
import json, os, signal, sys, time
import kiroku
from kiroku.settings import Settings

fast, mode, marker = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
if mode == "previous-handler":
    def previous(signum, frame):
        open(marker, "w").write("previous handler ran")
        sys.exit(0)
    signal.signal(signal.SIGTERM, previous)
run = kiroku.init(capture=False, settings=Settings(**fast))
for step in range(5):
    run.log({"loss": 1.0 / (step + 1)})
print("READY", run.id, run.client_id, flush=True)
if mode == "exit":
    sys.exit(0)
if mode == "raise":
    raise RuntimeError("boom")
while True:
    run.log({"loss": 0.1})
    time.sleep(0.01)
"""


@pytest.fixture
def start_child(tmp_path, child_env):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    children: list[subprocess.Popen] = []

    def start(mode: str) -> tuple[subprocess.Popen, str, str]:
        child = subprocess.Popen(
            [PYTHON, str(script), json.dumps(FAST), mode, str(tmp_path / "marker")],
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        children.append(child)
        line = child.stdout.readline()
        assert line.startswith("READY"), child.stderr.read()
        _, run_id, client_id = line.split()
        return child, run_id, client_id

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait(10)


def test_clean_exit_without_finish_marks_the_run_finished(start_child, reader):
    child, run_id, _ = start_child("exit")
    assert child.wait(20) == 0
    assert reader.run(run_id).status == "FINISHED"
    assert reader.run(run_id).metric_summaries["loss"]["count"] == 5


def test_uncaught_exception_marks_the_run_failed(start_child, reader):
    child, run_id, _ = start_child("raise")
    assert child.wait(20) == 1
    assert "RuntimeError: boom" in child.stderr.read()  # the traceback still shows
    assert reader.run(run_id).status == "FAILED"


def test_sigterm_marks_the_run_killed_and_ends_the_process_by_the_signal(start_child, reader):
    child, run_id, _ = start_child("loop")
    child.send_signal(signal.SIGTERM)
    assert child.wait(20) == -signal.SIGTERM
    run = reader.run(run_id)
    assert run.status == "KILLED"
    assert run.metric_summaries["loss"]["count"] >= 5


def test_sigterm_chains_to_the_handler_installed_before(start_child, reader, tmp_path):
    child, run_id, _ = start_child("previous-handler")
    child.send_signal(signal.SIGTERM)
    assert child.wait(20) == 0  # the earlier handler's sys.exit(0)
    assert (tmp_path / "marker").read_text() == "previous handler ran"
    assert reader.run(run_id).status == "KILLED"


def test_sigkill_leaves_a_crashed_run_that_resume_continues(start_child, reader, settings):
    from apps.runs.services import run_mark_stale_crashed

    child, run_id, client_id = start_child("loop")
    time.sleep(0.3)
    child.kill()
    child.wait(10)
    assert reader.run(run_id).status == "RUNNING"
    time.sleep(1.2)
    assert run_mark_stale_crashed(timeout=timedelta(seconds=1)) == 1
    crashed = reader.run(run_id)
    assert crashed.status == "CRASHED"
    last_step = crashed.metric_summaries["loss"]["last_step"]

    with kiroku.init(id=client_id, resume="must", capture=False, settings=settings) as run:
        assert run.id == run_id
        assert run.step == last_step + 1
        run.log({"loss": 0.01})
    resumed = reader.run(run_id)
    assert resumed.status == "FINISHED"
    assert resumed.metric_summaries["loss"]["last_step"] == last_step + 1
    assert resumed.metrics["loss"] == 0.01


def test_a_forked_child_neither_records_nor_finishes_the_run(settings, reader):
    with kiroku.init(capture=False, settings=settings) as run:
        run.log({"loss": 1.0})
        queued = len(run._sender.points)
        pid = os.fork()
        if pid == 0:  # a DataLoader worker, say
            run.log({"loss": 2.0})
            run.finish()
            os._exit(0 if len(run._sender.points) == queued else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        run.log({"loss": 3.0})
    data = reader.run(run.id)
    assert data.status == "FINISHED"
    assert [(p["step"], p["value"]) for p in data.history("loss")] == [(0, 1.0), (1, 3.0)]
