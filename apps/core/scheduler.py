"""A small in-process scheduler for the embedded default.

With no broker configured, ``manage.py serve`` runs Celery beat's schedule
(``CELERY_BEAT_SCHEDULE``) on a daemon thread, calling each task in-process, so a
laptop install crashes stale runs and retries the outbox like production does.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)


class InProcessScheduler:
    def __init__(self, schedule: dict[str, Any] | None = None, *, tick: float = 1.0) -> None:
        self.schedule: dict[str, Any] = (
            schedule if schedule is not None else settings.CELERY_BEAT_SCHEDULE
        )
        self.tick = tick
        current_app.loader.import_default_modules()  # autodiscovered tasks, once
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_due(self, now: float, next_runs: dict[str, float]) -> None:
        for name, entry in self.schedule.items():
            if now < next_runs.get(name, 0.0):
                continue
            next_runs[name] = now + float(entry["schedule"])
            close_old_connections()
            try:
                current_app.tasks[entry["task"]].apply()
            except Exception:
                logger.exception("periodic job %s failed", name)
            finally:
                close_old_connections()

    def _loop(self) -> None:
        next_runs: dict[str, float] = {}
        while not self._stop.is_set():
            self.run_due(time.monotonic(), next_runs)
            self._stop.wait(self.tick)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="kiroku-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
