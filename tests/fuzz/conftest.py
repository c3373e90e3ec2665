"""The fuzz suite: every API operation under generated and hostile input, failing on
any 5xx. It takes minutes, so ``make test`` leaves it out: this folder's tests are
collected only when the marker expression names ``fuzz`` (``make fuzz`` runs
``pytest -m fuzz tests/fuzz``).

The world (``tests/fuzz/world.py``) is built once for this folder and committed; each
test runs in a transaction that is rolled back, so every operation meets the same
world however the one before it changed it. What the application defers to the
commit (domain events, notifications, their Celery tasks) runs after each request,
through ``after_commit``.
"""

from __future__ import annotations

import shutil
import traceback
from collections import Counter
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.core.signals import got_request_exception
from django.test import override_settings

from tests.fuzz.world import World, world_build
from tests.notifications.fake_notion import FakeNotion
from tests.notifications.fake_slack import FakeSlack

_TALLY = pytest.StashKey[Counter]()


def _fuzz_selected(config: pytest.Config) -> bool:
    return "fuzz" in (config.getoption("markexpr") or "")


def pytest_ignore_collect(collection_path, config):
    # Importing the test modules loads the schema (schemathesis parametrizes at
    # collection), which a run that does not select the fuzz tests has no use for.
    if collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        return None if _fuzz_selected(config) else True
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    # schemathesis names each operation's item "<test>[<METHOD path>]", but under pytest 9
    # builds its node id from the bare test name, so every operation shares one id;
    # pytest-xdist schedules by id and would run the first operation only. The id is
    # rebuilt from the name, as pytest builds a parametrized test's.
    for item in items:
        params = item.name.removeprefix(f"{item.originalname}[").removesuffix("]")
        if params != item.name and not item.nodeid.endswith(f"[{params}]"):
            item._id = item.parent.id.child(item.originalname).with_params(params)


def pytest_sessionfinish(session):
    # Under pytest-xdist each worker counts its own requests; the controller adds them
    # up (pytest_testnodedown) and prints one summary.
    tally = session.config.stash.get(_TALLY, None)
    if tally and hasattr(session.config, "workeroutput"):
        session.config.workeroutput["fuzz_tally"] = [[kind, n] for kind, n in tally.items()]


def pytest_testnodedown(node, error):
    counted = getattr(node, "workeroutput", {}).get("fuzz_tally", [])
    if counted:
        tally = node.config.stash.setdefault(_TALLY, Counter())
        for kind, count in counted:
            tally[kind] += count


def pytest_terminal_summary(terminalreporter, config):
    tally = config.stash.get(_TALLY, None)
    if tally:
        lines = [f"{kind}: {count} requests" for kind, count in sorted(tally.items())]
        terminalreporter.write_sep("-", "fuzz: requests sent, by test and status class")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def tally(request) -> Counter:
    """Counts requests by (test, status class), for the summary at the end of the run."""
    return request.config.stash.setdefault(_TALLY, Counter())


@pytest.fixture(scope="package")
def _world_built(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[tuple]:
    from config.celery import app

    with FakeSlack() as slack, FakeNotion() as notion:
        overrides = {
            "KIROKU_SLACK_API_URL": slack.url,
            "KIROKU_NOTION_API_URL": notion.url,
            "KIROKU_ARTIFACT_STORE": {
                "backend": "local",
                "root": tmp_path_factory.mktemp("fuzz-artifacts"),
            },
        }
        eager = app.conf.task_always_eager
        app.conf.task_always_eager = True
        try:
            with django_db_blocker.unblock(), override_settings(**overrides):
                world = world_build(
                    slack_token=slack.token,
                    notion_token=notion.token,
                    notion_database=notion.database_id,
                )
            yield world, overrides
        finally:
            app.conf.task_always_eager = eager
            with django_db_blocker.unblock():
                # Tests outside this folder, in the same session, must not find them.
                call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def world(_world_built, db, settings, tmp_path) -> World:
    """The folder's world, for one test: its rows (rolled back after the test), a copy
    of its artifact files (a delete removes a file after the commit), and the settings
    that point at them and at its loopback Slack and Notion."""
    world, overrides = _world_built
    for name, value in overrides.items():
        setattr(settings, name, value)
    store = dict(overrides["KIROKU_ARTIFACT_STORE"])
    store["root"] = shutil.copytree(store["root"], tmp_path / "fuzz-artifacts")
    settings.KIROKU_ARTIFACT_STORE = store
    return world


@pytest.fixture(autouse=True)
def _connection_kept():
    """The requests go through the real WSGI handler, which closes the database
    connection when a response ends; that would end the test's transaction. Django's
    test client keeps it the same way."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks):
    """A context for one request: what it deferred to the commit runs when it ends,
    as it would after a real commit (an exception there fails the test)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def server_tracebacks() -> Iterator[list[str]]:
    """The tracebacks of the exceptions the application turned into 500s during the
    test, newest last: a failure shows where the server broke, not only that it did."""
    caught: list[str] = []

    def record(sender, request=None, **kwargs):
        caught.append(traceback.format_exc())

    got_request_exception.connect(record, weak=False)
    yield caught
    got_request_exception.disconnect(record)
