"""How the suite runs (a pytest plugin, listed in tests/conftest.py): pytest-xdist
workers (``make test`` runs ``-n auto``), each with a Redis database of its own, node
ids that are the same in every worker, browser tests a file at a time, and the two
shortcuts that keep a run fast without changing what it checks (password hashing,
WhiteNoise's scan of the static files). Checked by tests/test_suite.py."""

from __future__ import annotations

import os

import pytest

# REDIS_URL as the run was given it, before _redis_of_this_worker (tests/test_suite.py).
REDIS_URL_GIVEN = pytest.StashKey[str | None]()


def pytest_configure(config):
    config.stash[REDIS_URL_GIVEN] = os.environ.get("REDIS_URL")
    _fast_password_hashing()
    _redis_of_this_worker()


def _fast_password_hashing() -> None:
    """Passwords set in the tests are hashed with MD5 (Django's advice for test suites):
    PBKDF2 costs a few hundred milliseconds on purpose, at every sign-in of the browser
    tests' live server and every password form. Django's own hashers stay in the list,
    so a hash made for a server in another process (``make_password(...,
    hasher="pbkdf2_sha256")``, tests/deploy) and the hashes such servers make are still
    checked here."""
    from django.conf import global_settings, settings
    from django.contrib.auth.hashers import reset_hashers

    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *global_settings.PASSWORD_HASHERS,
    ]
    reset_hashers(setting="PASSWORD_HASHERS")


def _redis_of_this_worker() -> None:
    """Under pytest-xdist (``make test`` runs ``-n auto``) each worker has a Redis
    database of its own, as it has a test database of its own (``test_kiroku_gw0``...):
    worker gwN uses the database N below the one REDIS_URL names (15, 14, ... for
    ``redis://127.0.0.1:6379/15``), so one worker's purge, throttle counters, cached
    rows and queued tasks never reach another's. Settings are read before any conftest,
    so the worker's URL replaces the one they hold, and goes into the environment that
    the Celery workers and servers started by the tests inherit."""
    from urllib.parse import urlsplit, urlunsplit

    from django.conf import settings

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    url = os.environ.get("REDIS_URL")
    if not worker.startswith("gw") or not url:
        return
    parts = urlsplit(url)
    named = int(parts.path.strip("/") or 0)
    index = int(worker.removeprefix("gw"))
    if named - index < 0:
        raise pytest.UsageError(
            f"REDIS_URL names Redis database {named}, too low for xdist worker {worker}, "
            f"which uses database {named} - {index}: name a higher one (with redis://…/15 the "
            "workers use 15, 14, ...) or run fewer workers (PYTEST_ARGS='-n 1')."
        )
    mine = urlunsplit(parts._replace(path=f"/{named - index}"))
    os.environ["REDIS_URL"] = mine
    settings.REDIS_URL = settings.CELERY_BROKER_URL = mine
    if settings.CACHES["default"].get("LOCATION") == url:
        from django.test.signals import clear_cache_handlers

        settings.CACHES = {
            **settings.CACHES,
            "default": {**settings.CACHES["default"], "LOCATION": mine},
        }
        clear_cache_handlers(setting="CACHES")

    from config.celery import app

    app.conf.broker_url = mine
    app._pool = None
    app.amqp._producer_pool = None


def pytest_itemcollected(item):
    # A browser test file runs whole in one worker, its tests one after the other, so
    # the worker's Chromium starts once for the file (``--dist loadgroup``, see the
    # Makefile); the files themselves spread over the workers.
    if item.get_closest_marker("browser") and item.config.pluginmanager.hasplugin("xdist"):
        item.add_marker(pytest.mark.xdist_group(f"browser:{item.path.name}"))


def pytest_collection_finish(session):
    # pytest-xdist hands tests to its workers by node id: of items that share one, it
    # would run the first and silently drop the rest.
    seen: set[str] = set()
    shared = {item.nodeid for item in session.items if item.nodeid in seen or seen.add(item.nodeid)}
    if shared:
        raise pytest.UsageError(f"tests that share a node id: {sorted(shared)}")


@pytest.fixture(scope="session", autouse=True)
def _static_files_scanned_once():
    """WhiteNoise lists and stats every static file (the admin's, the API docs' bundle,
    plotly) whenever a middleware chain is built, and the test client builds one per
    client: thousands of scans a run, about half of the suite's time. A server builds
    its chain once per process. The scan's result depends only on the settings named in
    the key and on the files, which do not change during a run, so each distinct
    configuration is scanned once and its table copied into every later middleware."""
    from django.conf import settings
    from whitenoise.middleware import WhiteNoiseMiddleware

    scan = WhiteNoiseMiddleware.add_files_from_finders
    scanned: dict[tuple, dict] = {}

    def key() -> tuple:
        static = [name for name in dir(settings) if name.startswith(("STATIC", "WHITENOISE_"))]
        names = ["DEBUG", "FORCE_SCRIPT_NAME", "INSTALLED_APPS", *static]
        return tuple((name, repr(getattr(settings, name, None))) for name in names)

    def add_files_from_finders(self) -> None:
        config = key()
        if config not in scanned:
            before = dict(self.files)
            scan(self)
            scanned[config] = {
                url: found for url, found in self.files.items() if before.get(url) is not found
            }
        self.files.update(scanned[config])

    WhiteNoiseMiddleware.add_files_from_finders = add_files_from_finders
    yield
    WhiteNoiseMiddleware.add_files_from_finders = scan
