"""Browser fixtures: Debian's Chromium driven by Playwright against the live server.

One browser per session (launched on first use, after the ``browser`` gate in
tests/conftest.py has passed), one context that every test's ``page`` opens in,
emptied between tests (see ``Chromium`` and ``context``), and ``signed_in_page``: the
member of project vision, signed in through the real form. ``shot(page, step)`` saves a
full-page screenshot to var/test-artifacts/screenshots/<test-name>-<step>.png.

Nothing is downloaded: the browser is the system's ``chromium`` (``apt-get install -y
chromium``), never ``playwright install``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.test.testcases import QuietWSGIRequestHandler

from tests.factories import make_token

# Django's test server writes headers and body separately; with Nagle's algorithm on,
# every keep-alive answer then waits out the client's delayed ACK (40 ms).
QuietWSGIRequestHandler.disable_nagle_algorithm = True

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "screenshots"
PASSWORD = "correct horse battery staple"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BATCH = 10_000  # the most metric points the log endpoint takes at once
# Long enough for a loaded 2-core CI machine, short enough that a broken page fails fast.
TIMEOUT_MS = 10_000


class Chromium:
    """The session's browsers, started on first use and stopped as soon as the run
    leaves the browser tests: one with a profile on disk, whose single context every
    test's ``page`` opens in (see ``context``), and a plain one, for the tests that open
    a context of their own (a visitor with no session) through ``browser``.

    The profile on disk is for speed: Chromium keeps compiled scripts only there, so
    plotly's 4.8 MB is compiled at the first two pages that load it and then read from
    the cache (a context without a profile compiles it at every page, ~1.2 s of CPU).

    While Playwright's sync API runs, the main thread looks to Django like it is inside
    an event loop (Playwright keeps its loop marked as running between calls), so the
    ORM would refuse to run there; DJANGO_ALLOW_ASYNC_UNSAFE is set for exactly that
    window and no longer, so the rest of the suite keeps Django's check.
    """

    def __init__(self) -> None:
        self._playwright = None
        self._browser = None
        self._profile: tempfile.TemporaryDirectory | None = None
        self._context = None
        self._async_unsafe_before: str | None = None

    def _start(self):
        if self._playwright is None:
            from playwright.sync_api import sync_playwright

            self._async_unsafe_before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
            self._playwright = sync_playwright().start()
        return self._playwright

    def get(self):
        if self._browser is None:
            self._browser = self._start().chromium.launch(
                executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
            )
        return self._browser

    def context(self, base_url: str):
        """The context of the browser with a profile, launched on first use."""
        if self._context is None:
            self._profile = tempfile.TemporaryDirectory(prefix="kiroku-chromium-")
            self._context = self._start().chromium.launch_persistent_context(
                self._profile.name,
                executable_path=shutil.which("chromium"),
                args=CHROMIUM_ARGS,
                base_url=base_url,
                viewport={"width": 1280, "height": 900},
            )
            self._context.set_default_timeout(TIMEOUT_MS)
        return self._context

    def stop(self) -> None:
        if self._context is not None:
            self._context.close()
            self._context = None
            self._profile.cleanup()
            self._profile = None
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None
            if self._async_unsafe_before is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = self._async_unsafe_before


CHROMIUM = Chromium()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    # trylast: after every fixture of the item is torn down (its context included).
    if nextitem is None or nextitem.get_closest_marker("browser") is None:
        CHROMIUM.stop()


@pytest.fixture(scope="session")
def _chromium() -> Iterator[Chromium]:
    yield CHROMIUM
    CHROMIUM.stop()


@pytest.fixture
def browser(_service_gates, _chromium):
    """The session's Chromium; requesting the gate first means a machine without
    Chromium skips (or, under CI=true, fails) before anything is launched."""
    return _chromium.get()


@pytest.fixture
def context(_service_gates, _chromium, live_server):
    """The context every test's ``page`` opens in: the one of the browser with a
    profile (see ``Chromium``), shared by the session's tests. After each test it is
    left as a fresh one would be: its pages closed, its cookies (the session) and
    permissions cleared, and this origin's local and session storage emptied. A test
    that needs a second person opens a context of its own with
    ``browser.new_context()``."""
    context = _chromium.context(live_server.url)
    yield context
    for page in context.pages:
        page.close()
    context.clear_cookies()
    context.clear_permissions()
    blank = context.new_page()
    context.new_cdp_session(blank).send(
        "Storage.clearDataForOrigin",
        {"origin": live_server.url, "storageTypes": "local_storage,session_storage"},
    )
    blank.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def dialogs(page) -> list[str]:
    """Every dialog (alert, confirm, prompt) the page opens, dismissed and recorded."""
    seen: list[str] = []

    def record(dialog) -> None:
        seen.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", record)
    return seen


@pytest.fixture
def shot(request) -> Callable[..., Path]:
    """``shot(page, "runs-table")`` saves a full-page screenshot named after the test."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")

    def take(page, step: str) -> Path:
        path = SCREENSHOTS / f"{test_name}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


_password_hash: list[str] = []


def give_password(user) -> None:
    """Set PASSWORD on ``user``; hashed once per session (PBKDF2 is slow on purpose)."""
    from django.contrib.auth.hashers import make_password

    if not _password_hash:
        _password_hash.append(make_password(PASSWORD))
    user.password = _password_hash[0]
    user.save(update_fields=["password"])


def sign_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in_with_session(context, base_url: str, user) -> None:
    """Give ``context`` a session of ``user`` made on the server's side, as the sign-in
    form would (tests/browser/test_sign_in.py drives the form itself): half a second
    less per test than typing into it."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])


@pytest.fixture
def signed_in_page(page, live_server, member, project):
    """The member of project vision, signed in, on the projects list."""
    sign_in_with_session(page.context, live_server.url, member)
    page.goto("/projects")
    return page


@pytest.fixture
def api(live_server, member, project):
    """An HTTP client on the live server's API as the member (what the SDK does)."""
    import httpx

    client = httpx.Client(
        base_url=f"{live_server.url}/api/v1",
        headers={"Authorization": f"Bearer {make_token(member)}"},
        timeout=10,
    )
    yield client
    client.close()


@pytest.fixture
def new_run(api) -> Callable[..., str]:
    """``new_run(name=..., params=..., metrics=[(key, step, value)], ...)``: a run in
    vision made over HTTP; returns its id."""

    def build(*, metrics=(), params=None, tags=None, slug="vision", **body) -> str:
        response = api.post(f"/projects/{slug}/runs", json=body)
        assert response.status_code == 201, response.text
        run_id = response.json()["id"]
        if metrics or params or tags:
            log(api, run_id, metrics, params=params, tags=tags, batch="seed")
        return run_id

    return build


def log(api, run_id: str, metrics, *, params=None, tags=None, batch: str) -> None:
    """Log over HTTP, in batches of at most 10,000 points (the server's limit)."""
    metrics = list(metrics)
    for start in range(0, max(len(metrics), 1), BATCH):
        body = {
            "batch_id": f"{batch}-{start}",
            "metrics": [{"key": k, "step": s, "value": v} for k, s, v in metrics[start:][:BATCH]],
        }
        if params and start == 0:
            body["params"] = params
        if tags and start == 0:
            body["tags"] = tags
        response = api.post(f"/runs/{run_id}/log", json=body)
        assert response.status_code == 200, response.text


def rendered_plot(scope, key: str):
    """The plot of chart ``key`` in ``scope`` (a page or a locator) once plotly has drawn
    it. Charts render lazily, so this opens the chart's group and scrolls it into view,
    as a reader would."""
    chart = scope.locator(f'.chart[data-key="{key}"]')
    group = chart.locator("xpath=ancestor::details[1]")
    if group.count() and not group.evaluate("details => details.open"):
        group.locator("summary").first.click()
    chart.scroll_into_view_if_needed()
    plot = chart.locator(".plot.rendered")
    plot.wait_for()
    return plot


def trace_lengths(plot) -> list[int]:
    """How many points each trace of a drawn plot holds (plotly keeps them on the div)."""
    return plot.evaluate("el => el.data.map(trace => trace.x.length)")


def trace_values(plot) -> list[list[float]]:
    return plot.evaluate("el => el.data.map(trace => Array.from(trace.y))")


def ema(values: list[float], weight: float) -> list[float]:
    """TensorBoard's debiased exponential moving average: what the charts' smoothing
    draws."""
    out, last = [], 0.0
    for seen, value in enumerate(values, start=1):
        last = last * weight + (1 - weight) * value
        out.append(last / (1 - weight**seen))
    return out
