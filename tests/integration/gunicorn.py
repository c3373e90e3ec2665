"""gunicorn as production runs it (``config/gunicorn.py``), on the test's database.

``Gunicorn(tmp_path, workers=2, env={...}).start()`` serves Kiroku at ``.url`` with the
environment a Celery worker of the test gets (``worker_env``: the test database, Redis,
secrets, the artifact store in use), plus ``env``. Stop it with ``stop()``, or use the
``gunicorn_factory`` fixture, which stops every server it started.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.integration.workers import worker_env

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
ROOT = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"Listening at: (http://127\.0\.0\.1:\d+)")


class Gunicorn:
    """One gunicorn master and its workers, started by ``start()``."""

    def __init__(
        self, tmp_path: Path, *, workers: int = 2, env: dict[str, str] | None = None
    ) -> None:
        self.tmp_path = tmp_path
        self.workers = workers
        self.env = dict(env or {})
        self.process: subprocess.Popen | None = None
        self.log_path = tmp_path / "gunicorn.log"
        self._url: str | None = None

    def start(self) -> Gunicorn:
        """Start the server and return once a worker answers ``GET /healthz`` with 200
        (within 30 s).

        Raises AssertionError, with the end of gunicorn's log, when it does not answer
        in time, exits, or answers ``/healthz`` with anything else."""
        assert self.process is None, "start() a Gunicorn once"
        index = 0
        while self.log_path.exists():  # several servers in one test each keep a log
            index += 1
            self.log_path = self.tmp_path / f"gunicorn-{index}.log"
        env = worker_env(
            self.tmp_path,
            # Port 0: the kernel picks a free port, so tests running side by side never
            # race for one; the log says which (read back below).
            KIROKU_BIND="127.0.0.1:0",
            KIROKU_WEB_WORKERS=str(self.workers),
            **self.env,
        )
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.py"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            assert self.process.poll() is None, f"gunicorn exited\n{self.log_tail()}"
            assert time.monotonic() < deadline, f"gunicorn did not answer\n{self.log_tail()}"
            time.sleep(0.1)
        return self

    def _answers(self) -> bool:
        if self._url is None:
            match = _LISTENING.search(self.log_path.read_text())
            if match is None:
                return False
            self._url = match.group(1)
        try:
            response = httpx.get(f"{self._url}/healthz", timeout=2.0)
        except httpx.TransportError:  # no worker has loaded the app yet
            return False
        assert response.status_code == 200, (
            f"GET /healthz answered {response.status_code}\n{self.log_tail()}"
        )
        return True

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash."""
        assert self._url is not None, "start() the server first"
        return self._url

    @property
    def master_pid(self) -> int:
        assert self.process is not None, "start() the server first"
        return self.process.pid

    def worker_pids(self) -> list[int]:
        """The pids of the master's live children (its workers) now, ascending."""
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # the process ended while we looked
                continue
            # Fields after the command name, which may itself hold spaces or parentheses:
            # state, then parent pid. A killed worker stays a zombie child until reaped.
            state, parent = stat.rsplit(")", 1)[1].split()[:2]
            if int(parent) == self.master_pid and state not in ("Z", "X"):
                children.append(int(entry.name))
        return sorted(children)

    def kill_worker(self, pid: int) -> None:
        """SIGKILL one worker mid-whatever-it-does; the master starts a replacement."""
        assert pid in self.worker_pids(), f"{pid} is not a worker of {self.master_pid}"
        os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL to master and workers after 10 s."""
        if self.process is None or self.process.poll() is not None:
            return
        workers = self.worker_pids()
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
            for pid in workers:  # orphans would otherwise serve on until they notice
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def log_tail(self, chars: int = 4000) -> str:
        return f"--- {self.log_path.name}\n{self.log_path.read_text()[-chars:]}"
