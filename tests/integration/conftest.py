from __future__ import annotations

import pytest

from config.celery import app
from tests.integration.workers import Workers


@pytest.fixture
def workers(tmp_path):
    """Start real Celery workers with ``workers.start(name, **env)``; tasks sent by the
    test go through the broker (not in-process) while the fixture is active."""
    app.control.purge()
    before = app.conf.task_always_eager
    app.conf.task_always_eager = False
    pool = Workers(tmp_path)
    try:
        yield pool
    finally:
        app.conf.task_always_eager = before
        pool.stop_all()


@pytest.fixture
def celery_worker(workers):
    """One worker consuming every queue."""
    return workers.start()
