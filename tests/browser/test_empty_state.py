"""The README's promise: a new project's empty state hands over a `kiroku login` command
and three lines of SDK code without a token; run them and the run shows up, its chart
updating live."""

from __future__ import annotations

import re
import shlex
import time

import kiroku
import pytest
from kiroku.cli import main as kiroku_cli
from playwright.sync_api import expect

from tests.browser.conftest import rendered_plot, trace_lengths

pytestmark = pytest.mark.browser

LOSS = '.chart[data-key="loss"] .plot'


@pytest.fixture
def sdk_home(tmp_path, monkeypatch):
    """No SDK settings leak in from the machine."""
    for name in ("KIROKU_URL", "KIROKU_TOKEN", "KIROKU_PROJECT", "KIROKU_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("KIROKU_DIR", str(tmp_path / "kiroku"))


def test_the_empty_state_snippet_records_a_run_that_updates_live(
    signed_in_page, live_server, sdk_home, shot
):
    page = signed_in_page
    page.get_by_label("Slug").fill("mnist")
    page.get_by_label("Name", exact=True).fill("MNIST")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url("**/projects/mnist")
    login = page.locator("#login-code")
    snippet = page.locator("#snippet-code")
    expect(login).to_have_text(f"kiroku login --url {live_server.url}")
    shot(page, "empty")

    page.get_by_role("button", name="Fill in a new personal token").click()
    expect(login).to_contain_text("--token krk_")
    command = login.text_content()
    assert re.fullmatch(
        rf"kiroku login --url {re.escape(live_server.url)} --token krk_[A-Za-z0-9_-]+", command
    ), command
    code = snippet.text_content()
    # The token goes to `kiroku login`, never into the code a user pastes into a script.
    assert code == 'import kiroku\nrun = kiroku.init(project="mnist")\nrun.log({"loss": 0.5})'
    shot(page, "token")

    # What the user does with the two snippets: the login command, then the code.
    assert kiroku_cli(shlex.split(command)[1:]) == 0
    token = shlex.split(command)[-1]
    scope = {}
    exec(compile(code, "snippet", "exec"), scope)  # noqa: S102 - the page's own snippet
    run = scope["run"]
    try:
        assert isinstance(run, kiroku.Run)
        page.reload()
        link = page.locator(f'#runs a[href="/projects/mnist/runs/{run.id}"]')
        expect(link).to_have_count(1)
        # The SDK sends in the background (every second): open the run once its first
        # point is stored, so the chart has something to draw.
        with kiroku.Api(url=live_server.url, token=token) as reader:
            deadline = time.monotonic() + 10
            while not reader.run(run.id).history("loss") and time.monotonic() < deadline:
                time.sleep(0.2)
            assert reader.run(run.id).history("loss"), "the snippet's point never arrived"
        link.click()
        plot = rendered_plot(page, "loss")
        assert trace_lengths(plot) == [1]
        for value in (0.4, 0.3):
            run.log({"loss": value})
        page.wait_for_function(
            f"() => document.querySelector('{LOSS}').data[0].x.length === 3", timeout=20_000
        )
        shot(page, "live")
    finally:
        run.finish()
