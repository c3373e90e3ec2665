from __future__ import annotations

import pytest

from config.celery import app
from tests.integration.gunicorn import Gunicorn
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


@pytest.fixture
def gunicorn_factory(tmp_path):
    """``make(workers=2, env={...})`` starts a gunicorn on the test database (see
    tests/integration/gunicorn.py) and returns it once it answers; every one started is
    stopped at the end of the test."""
    servers: list[Gunicorn] = []

    def make(**kwargs) -> Gunicorn:
        server = Gunicorn(tmp_path, **kwargs)
        servers.append(server)  # before start(): one that fails to start is stopped too
        return server.start()

    try:
        yield make
    finally:
        for server in servers:
            server.stop()
