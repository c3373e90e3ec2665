"""bench.load's moving parts: gunicorn serving Kiroku, the reader that polls it while
the clients log, and a sampler of the machine's load average."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.sdk_child import PY, ROOT

_LISTENING = re.compile(r"Listening at: (http://127\.0\.0\.1:\d+)")


def _serving_inodes(port: int, *, skip: set[str]) -> dict[str, int]:
    """Socket inodes of established connections to local ``port`` (the server's ends
    of requests being served: a sync worker closes its end after each answer), each
    with the client's port; leaving out connections whose client end is in ``skip``."""
    served, clients = {}, {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] != "01":
            continue
        local = int(fields[1].rsplit(":", 1)[1], 16)
        remote = int(fields[2].rsplit(":", 1)[1], 16)
        if local == port:
            served[fields[9]] = remote
        elif remote == port:
            clients[local] = fields[9]
    return {inode: peer for inode, peer in served.items() if clients.get(peer) not in skip}


def _socket_inodes(pid: int) -> set[str]:
    found = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                found.add(target[8:-1])
    except OSError:
        pass
    return found


class Gunicorn:
    """``gunicorn config.wsgi -c config/gunicorn.py`` on a free loopback port, in its
    own session. ``env`` is the whole environment of the server."""

    def __init__(self, workdir: Path, env: dict[str, str], *, workers: int, name: str) -> None:
        self.env = {**env, "KIROKU_BIND": "127.0.0.1:0", "KIROKU_WEB_WORKERS": str(workers)}
        self.workers = workers
        self.log_path = workdir / f"gunicorn-{name}.log"
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 60) -> Gunicorn:
        """Start it; return once ``/healthz`` answers 200 and every worker is up."""
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(PY), "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.py"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not start; see {self.log_path}")
            if not self.url:
                found = _LISTENING.search(self.log_path.read_text(errors="replace"))
                self.url = found.group(1) if found else ""
            if self.url and len(self.worker_pids()) == self.workers and self._healthy():
                return self
            time.sleep(0.2)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def worker_pids(self) -> list[int]:
        """The master's live children, ascending."""
        assert self.process is not None
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, parent = stat.rsplit(")", 1)[1].split()[:2]
            if int(parent) == self.process.pid and state not in ("Z", "X"):
                found.append(int(entry.name))
        return sorted(found)

    def kill_busy_worker(self, within: float = 10.0) -> dict[str, Any]:
        """SIGKILL one worker, preferably while it serves a client's request (it holds
        an established connection to the server's port whose other end is not in this
        process, where the reader runs; looked for during ``within`` seconds, else the
        first worker), and wait until the master has started its replacement. Returns
        what happened."""
        port = int(self.url.rsplit(":", 1)[1])
        deadline = time.monotonic() + within
        victim, peer = None, None
        # A connection seen for 5 ms is a request in progress, not one whose answer
        # has gone out and whose socket is about to be closed.
        first_seen: dict[str, float] = {}
        while victim is None:
            serving = _serving_inodes(port, skip=_socket_inodes(os.getpid()))
            now = time.monotonic()
            first_seen = {inode: first_seen.get(inode, now) for inode in serving}
            settled = {inode for inode, seen in first_seen.items() if now - seen >= 0.005}
            for pid in self.worker_pids() if settled else ():
                held = settled & _socket_inodes(pid)
                if held:
                    victim, peer = pid, serving[held.pop()]
                    break
            else:
                if time.monotonic() > deadline:
                    victim = self.worker_pids()[0]
                time.sleep(0.001)
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        while True:
            pids = self.worker_pids()
            if len(pids) == self.workers and victim not in pids:
                break
            if time.monotonic() - killed_at > 60:
                break
            time.sleep(0.01)
        return {
            "killed_pid": victim,
            "in_request": peer is not None,
            "client_port": peer,
            "replaced_after_s": round(time.monotonic() - killed_at, 3),
        }

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=35)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class Reader(threading.Thread):
    """Polls like a person watching the portal: the project's first page of 50 runs,
    then one chart (``k0``, at most 500 points) of a random run from that page, then
    waits ``interval`` seconds. Samples: ``[seconds from start, ms, kind, outcome]``."""

    def __init__(
        self, url: str, token: str, project: str, *, start: float, until: float, interval: float
    ) -> None:
        super().__init__(daemon=True)
        self.url, self.token, self.project = url, token, project
        self.start_at, self.until, self.interval = start, until, interval
        self.samples: list[list[Any]] = []
        self.bad_answers: list[str] = []
        self.stop = threading.Event()

    def _get(self, http: httpx.Client, kind: str, path: str, params: dict) -> Any:
        began = time.time()
        clock = time.perf_counter()
        data = None
        try:
            answer = http.get(path, params=params)
            outcome: int | str = answer.status_code
            if answer.is_success:
                data = answer.json()
        except httpx.TimeoutException:
            outcome = "timeout"
        except httpx.TransportError:
            outcome = "network"
        ms = (time.perf_counter() - clock) * 1000
        self.samples.append([round(began - self.start_at, 3), round(ms, 2), kind, outcome])
        return data

    def run(self) -> None:
        pause = self.start_at - time.time()
        if pause > 0 and self.stop.wait(pause):
            return
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=30) as http:
            while not self.stop.is_set() and time.time() < self.until:
                page = self._get(http, "runs", f"/projects/{self.project}/runs", {"page_size": 50})
                runs = (page or {}).get("results") or []
                if runs:
                    run_id = random.choice(runs)["id"]
                    chart = self._get(
                        http,
                        "history",
                        f"/runs/{run_id}/metrics/history",
                        {"key": "k0", "max_points": 500},
                    )
                    self._check_chart(chart)
                self.stop.wait(self.interval)

    def _check_chart(self, chart: Any) -> None:
        if chart is None or len(self.bad_answers) >= 10:
            return
        points = chart.get("results") if isinstance(chart, dict) else None
        if not isinstance(points, list):
            self.bad_answers.append(f"history answer without results: {str(chart)[:200]}")
        elif len(points) > 500:
            steps = [p["step"] for p in points]
            self.bad_answers.append(
                f"max_points=500 answered {len(points)} points (total {chart.get('total')}, "
                f"steps {steps[0]}..{steps[-1]})"
            )


class LoadAverage(threading.Thread):
    """The 1-minute load average every 5 s, since other work may share the machine."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.values = [os.getloadavg()[0]]
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(5):
            self.values.append(os.getloadavg()[0])

    def summary(self) -> dict[str, float]:
        self.values.append(os.getloadavg()[0])
        return {
            "start": round(self.values[0], 2),
            "mean": round(sum(self.values) / len(self.values), 2),
            "max": round(max(self.values), 2),
            "end": round(self.values[-1], 2),
        }
