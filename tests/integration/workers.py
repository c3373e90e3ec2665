"""Real Celery worker processes for the integration tests, on the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from config.celery import app

QUEUES = "default,maintenance,notifications"


def eventually(predicate, timeout: float = 30.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def worker_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """What a worker needs to act on the test's database, artifact store and secrets."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": os.environ["REDIS_URL"],
        "KIROKU_VAR_DIR": str(tmp_path),
        "KIROKU_SECRET_KEY": settings.SECRET_KEY,
        # Destinations' credentials were encrypted by the test process.
        "KIROKU_ENCRYPTION_KEY": ",".join(settings.KIROKU_ENCRYPTION_KEYS),
    }
    store = settings.KIROKU_ARTIFACT_STORE
    if store["backend"] == "s3":
        env["KIROKU_ARTIFACT_STORE"] = f"s3://{store['bucket']}/{store['prefix']}"
        env["AWS_ENDPOINT_URL"] = settings.KIROKU_S3_ENDPOINT_URL
    else:
        env["KIROKU_ARTIFACT_STORE"] = f"file://{store['root']}"
    env.update(overrides)
    return env


class Workers:
    """Starts worker processes and stops every one of them at the end of the test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.processes: list[tuple[subprocess.Popen, Path]] = []

    def start(self, name: str = "w1", *, wait: bool = True, **env: str) -> subprocess.Popen:
        log_path = self.tmp_path / f"worker-{name}-{len(self.processes)}.log"
        log = log_path.open("w")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                QUEUES,
                "--pool",
                "solo",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"{name}-{len(self.processes)}@%h",
                "--loglevel",
                "INFO",
            ],
            env=worker_env(self.tmp_path, **env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.processes.append((process, log_path))
        if wait:
            assert eventually(lambda: self.ready(log_path), timeout=60), self.logs()
        return process

    @staticmethod
    def ready(log_path: Path) -> bool:
        return " ready." in log_path.read_text()

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL: the worker dies mid-task, acknowledging nothing."""
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def logs(self) -> str:
        tails = (f"--- {path.name}\n{path.read_text()[-4000:]}" for _, path in self.processes)
        return "\n".join(tails)

    def stop_all(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                process.terminate()
        for process, _ in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def use_broker(url: str) -> None:
    """Point this (test) process's Celery producer at ``url``, dropping pooled
    connections to the previous broker."""
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None
