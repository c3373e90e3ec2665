"""A Kiroku server started the way users start it (``make run``, ``manage.py serve``),
as a child process of the test on a free port: its output collected line by line, its
start awaited, and stopped with its children."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def env_without_kiroku(**extra: str) -> dict[str, str]:
    """This process's environment without Kiroku's settings, the services' URLs (the
    embedded default is what a newcomer gets), a parent make's flags or a redirected
    config folder (the CLI keeps its login there), plus ``extra``."""
    dropped = {"DATABASE_URL", "REDIS_URL", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "XDG_CONFIG_HOME"}
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("KIROKU_") and key not in dropped
    }
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


class ChildServer:
    """``command`` run in ``cwd`` in a process group of its own (make and the server it
    starts stop together); ``lines`` is its stdout so far, with stderr when
    ``with_stderr``. ``port`` and ``base`` are for the command to serve on."""

    def __init__(
        self, command: list[str], *, cwd: Path, env: dict[str, str], port: int, with_stderr: bool
    ) -> None:
        self.name = " ".join(command[:2])
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if with_stderr else subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_started(self, seconds: float = 90) -> list[str]:
        """The output up to Django's "Quit the server" line, once /healthz answers 200."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited with {self.process.returncode}: {self.lines}"
                )
            if any(line.startswith("Quit the server") for line in self.lines):
                try:
                    if httpx.get(f"{self.base}/healthz", timeout=5).status_code == 200:
                        return list(self.lines)
                except httpx.TransportError:
                    pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not start in {seconds} s: {self.lines}")

    def stop(self) -> None:
        """SIGTERM to the whole group, SIGKILL if it lingers."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)
        self._reader.join(timeout=5)
