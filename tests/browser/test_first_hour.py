"""The first hour, as a newcomer walks it, in Debian's Chromium.

A fresh ``make run PORT=<free port>`` (the embedded default: SQLite in a temporary
KIROKU_VAR_DIR, no DATABASE_URL or REDIS_URL); sign in with the password it printed;
create a project by its name; copy the empty runs table's ``kiroku login`` command
(after the token button) and its Python, which holds no token; run the real ``kiroku``
CLI, then the Python as a script, extended to log a few steps and record a second
run; open the URL the SDK printed: the charts come first, smoothing and log-scale y
work; compare the two runs from the runs table; create a share link whose panel lists
what it will reveal. Each page is saved at 1440 and 390 px as
var/test-artifacts/screenshots/first-hour-<page>-<width>.png.

The server is this repository's own Makefile target, run as a child process in a
process group of its own, stopped at the end whatever happens. ``make -o
<venv>/.installed`` takes the virtualenv as installed: a test never reinstalls
packages (``make test`` has just brought the stamp up to date anyway).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from apps.collab.models import SHARE_SHOWN
from tests.browser.conftest import SCREENSHOTS, TIMEOUT_MS, ema, rendered_plot, trace_values
from tests.child_server import ChildServer, env_without_kiroku, free_port

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)  # the virtualenv running the tests: `make run` uses the same
WIDTHS = (1440, 390)
PROJECT_NAME = "First Hour"
SLUG = "first-hour"
# What the script adds after the page's snippet (which logs loss 0.5 at step 0): four
# more steps, decades apart (a log-scale y makes them a straight line), and a second run.
FIRST_LOSSES = [0.5, 0.1, 0.01, 0.001, 0.0001]
SECOND_LOSSES = [0.6, 0.3, 0.2, 0.15, 0.12, 0.11]
SCRIPT_TAIL = f"""
for loss in {FIRST_LOSSES[1:]!r}:
    run.log({{"loss": loss}})
run.finish()

second = kiroku.init(project="{SLUG}")
for loss in {SECOND_LOSSES!r}:
    second.log({{"loss": loss}})
second.finish()
"""
PASSWORD_LINE = re.compile(r"\|\s+password:\s+(\S+)\s*\|")


def start_make_run(var_dir: Path) -> ChildServer:
    """``make run PORT=<free port>`` in the repository root; its ``lines`` are stdout and
    stderr together, as a terminal shows them."""
    port = free_port()
    command = ["make", "-o", f"{VENV}/.installed", "run", f"VENV={VENV}", f"PORT={port}"]
    env = env_without_kiroku(KIROKU_VAR_DIR=str(var_dir))
    return ChildServer(command, cwd=ROOT, env=env, port=port, with_stderr=True)


@pytest.fixture
def make_run(tmp_path) -> Iterator[ChildServer]:
    server = start_make_run(tmp_path / "var")
    try:
        yield server
    finally:
        server.stop()


class Steps:
    """How long each step took, printed at the end (and shown with a failure)."""

    def __init__(self) -> None:
        self.taken: list[tuple[str, float]] = []
        self._last = self._start = time.monotonic()

    def done(self, name: str) -> None:
        now = time.monotonic()
        self.taken.append((name, now - self._last))
        self._last = now

    def report(self) -> str:
        lines = [f"  {seconds:6.1f} s  {name}" for name, seconds in self.taken]
        return "\n".join([*lines, f"  {time.monotonic() - self._start:6.1f} s  in all"])


def plots_fit(page) -> None:
    """Wait until every drawn plot has followed the last change of the viewport: plotly
    redraws a chart for its box a moment after a resize (``_resolveResize`` is set while
    one is pending), so first let the resize reach the page (two frames)."""
    page.evaluate(
        "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll('.plot.rendered'))
                 .filter(el => el._fullLayout)
                 .every(el => !el._resolveResize
                              && Math.abs(el._fullLayout.width - el.clientWidth) < 2)"""
    )


def screenshots(page, name: str) -> None:
    """The whole page at each width, as a reader at that width sees it, then back at
    1440 x 900. Nothing is wider than the window. The window is made as tall as the page
    before the picture, so taking it resizes nothing (a resize mid-picture catches the
    charts half redrawn)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        plots_fit(page)
        assert page.evaluate("document.documentElement.scrollWidth") == width, (name, width)
        height = max(900, page.evaluate("document.documentElement.scrollHeight"))
        page.set_viewport_size({"width": width, "height": height})
        plots_fit(page)
        page.screenshot(path=str(SCREENSHOTS / f"first-hour-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})
    plots_fit(page)


def copied(page, source_id: str) -> str:
    """Press the Copy button of ``source_id`` and read what it put on the clipboard."""
    button = page.locator(f'button[data-copy="{source_id}"]')
    button.click()
    expect(button).to_have_text("Copied")
    return page.evaluate("navigator.clipboard.readText()")


def test_a_newcomer_gets_from_make_run_to_a_shared_run_in_the_first_hour(
    browser, make_run, tmp_path
):
    # The step times are printed (shown with -s or -rP, and with a failure, along with
    # what the server said).
    steps = Steps()
    try:
        walk(browser, make_run, tmp_path, steps)
    except BaseException:
        print("make run said (last 60 lines):", *make_run.lines[-60:], sep="\n")
        raise
    finally:
        print(f"first hour, step by step:\n{steps.report()}")


def walk(browser, server: ChildServer, tmp_path: Path, steps: Steps) -> None:
    # 1. `make run`: the migrations, then the framed password, then the server.
    lines = server.wait_started()
    # The virtualenv is taken as it is: the first command make runs is the migration.
    assert lines[0] == f"{VENV}/bin/python manage.py migrate --noinput"
    passwords = [match.group(1) for line in lines if (match := PASSWORD_LINE.fullmatch(line))]
    assert len(passwords) == 1, lines
    [password] = passwords
    assert f"|    {server.base}/login" in [line.rstrip(" |") for line in lines]
    assert f"Starting development server at {server.base}/" in lines
    steps.done("make run: migrate, admin, serving")

    context = browser.new_context(
        base_url=server.base, viewport={"width": WIDTHS[0], "height": 900}
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.on("pageerror", lambda error: errors.append(str(error)))

        # 2. Sign in with the printed password.
        page.goto("/login")
        screenshots(page, "sign-in")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/projects")
        steps.done("sign in")

        # 3. A project by its name: the slug follows.
        page.get_by_label("Name", exact=True).fill(PROJECT_NAME)
        expect(page.get_by_label("Slug")).to_have_value(SLUG)
        screenshots(page, "projects")
        page.get_by_role("button", name="Create project").click()
        page.wait_for_url(f"**/projects/{SLUG}")
        expect(page.locator("#empty-title")).to_have_text("No runs yet: record the first one")
        steps.done("create the project")

        # 4. The empty state: the login command gets a fresh token, the code none.
        login = page.locator("#login-code")
        expect(login).to_have_text(f"kiroku login --url {server.base}")
        page.get_by_role("button", name="Fill in a new personal token").click()
        expect(login).to_contain_text("--token krk_")
        command = copied(page, "login-code")
        assert re.fullmatch(
            rf"kiroku login --url {re.escape(server.base)} --token (krk_[A-Za-z0-9_-]+)", command
        ), command
        token = shlex.split(command)[-1]
        code = copied(page, "snippet-code")
        assert (
            code == f'import kiroku\nrun = kiroku.init(project="{SLUG}")\nrun.log({{"loss": 0.5}})'
        )
        assert token not in page.locator("#snippet-code").text_content()
        screenshots(page, "empty-state")
        steps.done("copy the login command and the code")

        # 5. The login command, then the code as a script, in a home of their own.
        home = tmp_path / "home"
        home.mkdir()
        user_env = env_without_kiroku(HOME=str(home))
        [program, *args] = shlex.split(command)
        logged_in = subprocess.run(
            [str(VENV / "bin" / program), *args],
            cwd=home,
            env=user_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        credentials = home / ".config" / "kiroku" / "credentials"
        assert (logged_in.returncode, logged_in.stdout, logged_in.stderr) == (
            0,
            f"Logged in to {server.base} as admin, personal token 'SDK snippet for {SLUG}'. "
            f"Saved to {credentials} (mode 600).\n",
            "",
        )
        steps.done("kiroku login")

        script = home / "train.py"
        script.write_text(code + "\n" + SCRIPT_TAIL, encoding="utf-8")
        trained = subprocess.run(
            [str(VENV / "bin" / "python"), script.name],
            cwd=home,
            env=user_env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert (trained.returncode, trained.stdout) == (0, ""), trained.stderr
        # One line at init and one at finish per run, on stderr, and nothing else.
        run_url = re.escape(f"{server.base}/projects/{SLUG}/runs/") + r"([A-Za-z0-9_-]+)"
        name = r"(train-[A-Za-z0-9_-]{6})"
        announced = re.fullmatch(
            rf"Kiroku: run {name} → {run_url}\n"
            rf"Kiroku: run \1 FINISHED in (?:\d+\.\d|\d+)s, 5 points sent → {run_url}\n"
            rf"Kiroku: run {name} → {run_url}\n"
            rf"Kiroku: run \4 FINISHED in (?:\d+\.\d|\d+)s, 6 points sent → {run_url}\n",
            trained.stderr,
        )
        assert announced, trained.stderr
        first_name, first_id, again_id, second_name, second_id, second_again = announced.groups()
        assert (again_id, second_again) == (first_id, second_id)
        assert first_name != second_name and first_id != second_id
        first_url = f"{server.base}/projects/{SLUG}/runs/{first_id}"
        steps.done("the script records two runs")

        # 6. The URL the SDK printed: the charts first, under the header.
        page.goto(first_url)
        expect(page.locator("h1")).to_contain_text(first_name)
        expect(page.locator("#run-status")).to_have_text("finished")
        plot = rendered_plot(page, "loss")
        assert trace_values(plot) == [FIRST_LOSSES]
        header = page.locator("#run-head").bounding_box()
        first_chart = page.locator(".chart").first.bounding_box()
        tabs = page.get_by_role("tablist", name="About this run").bounding_box()
        assert header["y"] + header["height"] <= first_chart["y"] < tabs["y"]
        assert first_chart["y"] < 900  # on the first screen at 1440 x 900

        # Smoothing: the smoothed line drawn over the raw one, kept faint.
        page.locator("#chart-smoothing").evaluate(
            "el => { el.value = '0.6'; el.dispatchEvent(new Event('input', {bubbles: true})); }"
        )
        expect(page.locator("#chart-smoothing-value")).to_have_text("0.6")
        expect(plot).to_have_attribute("data-traces", "2")
        raw, smooth = trace_values(plot)
        assert raw == FIRST_LOSSES
        assert smooth == pytest.approx(ema(FIRST_LOSSES, 0.6))
        assert plot.evaluate("el => el.data.map(trace => trace.opacity ?? 1)") == [0.25, 1]

        # Log-scale y, per chart.
        assert plot.evaluate("el => el.layout.yaxis.type") == "linear"
        log_y = page.locator('.chart[data-key="loss"]').get_by_role("button", name="Log y")
        log_y.click()
        expect(log_y).to_have_attribute("aria-pressed", "true")
        page.wait_for_function(
            """() => document.querySelector('.chart[data-key="loss"] .plot')
                     .layout.yaxis.type === 'log'"""
        )
        screenshots(page, "run")
        steps.done("the run page: charts first, smoothing, log y")

        # 7. Both runs selected in the runs table, then compared.
        page.goto(f"/projects/{SLUG}")
        for run_id in (first_id, second_id):
            expect(page.locator(f'#runs a[href="/projects/{SLUG}/runs/{run_id}"]')).to_have_count(1)
        page.get_by_label(f"Select run {first_name}", exact=True).check()
        page.get_by_label(f"Select run {second_name}", exact=True).check()
        expect(page.locator("#compare-count")).to_have_text("2 selected")
        screenshots(page, "runs")
        page.get_by_role("button", name="Compare selected runs").click()
        page.wait_for_url(f"**/projects/{SLUG}/compare?*")
        assert sorted(parse_qs(urlsplit(page.url).query)["runs"]) == sorted([first_id, second_id])
        overlay = rendered_plot(page.locator("#overlays"), "loss")
        expect(overlay).to_have_attribute("data-traces", "2")
        assert sorted(trace_values(overlay)) == sorted([FIRST_LOSSES, SECOND_LOSSES])
        screenshots(page, "compare")
        steps.done("compare the two runs")

        # 8. A share link: the panel lists what it will reveal, the new row says so.
        page.goto(first_url)
        page.get_by_role("button", name="Share", exact=True).click()
        expect(page.get_by_role("dialog", name="Share this run")).to_be_visible()
        will_show = page.locator("#share-will-show li")
        expect(will_show).to_have_text(list(SHARE_SHOWN))
        page.get_by_label("The command line").check()
        expect(will_show).to_have_text([*SHARE_SHOWN, "The command line"])
        screenshots(page, "share")
        page.get_by_role("button", name="Create share link").click()
        expect(page.locator("#share-links td.share-reveals")).to_have_text("command line")
        share_url = page.locator("#share-url").input_value()
        assert re.fullmatch(rf"{re.escape(server.base)}/s/[A-Za-z0-9_-]+", share_url), share_url
        expect(will_show).to_have_text(list(SHARE_SHOWN))  # the form starts again
        steps.done("create a share link")

        # What the link's reader sees: the run and its command line, no account needed.
        stranger = browser.new_context(viewport={"width": WIDTHS[0], "height": 900})
        stranger.set_default_timeout(TIMEOUT_MS)
        try:
            visitor = stranger.new_page()
            visitor.goto(share_url)
            expect(visitor.locator("h1")).to_contain_text(first_name)
            expect(visitor.locator("#env-command")).to_contain_text("train.py")
            expect(visitor.locator("#code-withheld")).to_have_text(
                "Not shown through this link: git, directories."
            )
            screenshots(visitor, "shared")
        finally:
            stranger.close()
        steps.done("open the share link")
        assert errors == []  # no script error, no refused script, no failed request
    finally:
        context.close()
