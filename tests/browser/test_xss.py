"""User text stays text: markup in a run's name, tag, param and notes never runs.

``<script>`` put in the page through innerHTML would not run anyway, so a second run
carries an ``<img onerror>`` payload, which would.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TIMEOUT_MS, rendered_plot

pytestmark = pytest.mark.browser

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
# What a payload would have put in the document: a script that runs (JSON data blocks
# do not) or an element with an event handler attribute. Counted, so 0 means inert.
INJECTED = """() => [...document.querySelectorAll("script")].filter(
    el => el.type !== "application/json" && el.textContent.includes("alert(")
).length + [...document.querySelectorAll("*")].filter(
    el => [...el.attributes].some(attribute => attribute.name.startsWith("on"))
).length"""


@pytest.fixture
def context(browser, live_server):
    """A context that ignores the Content-Security-Policy: the policy would stop an
    inline handler anyway (tests/browser/test_csp.py), so escaping is tested on its own
    here, where a payload that got through would run."""
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, bypass_csp=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def payload_runs(new_run) -> list[str]:
    return [
        new_run(
            name=text,
            notes=text,
            params={"p": text},
            tags={"t": text},
            metrics=[("loss", 0, 1.0), ("loss", 1, 0.5)],
        )
        for text in (SCRIPT, IMG)
    ]


def test_markup_in_user_text_stays_inert_on_every_page(signed_in_page, payload_runs, dialogs, shot):
    page = signed_in_page
    script_run, img_run = payload_runs

    page.goto("/projects/vision?columns=params.p,tags.t")
    expect(page.locator("#runs tbody td:nth-child(2) a")).to_have_text([IMG, SCRIPT])
    expect(page.locator("#runs tbody td:nth-child(7)")).to_have_text([IMG, SCRIPT])
    expect(page.locator("#runs tbody td:nth-child(8)")).to_have_text([IMG, SCRIPT])
    assert page.evaluate(INJECTED) == 0
    shot(page, "runs")

    for run_id, text in ((script_run, SCRIPT), (img_run, IMG)):
        page.goto(f"/projects/vision/runs/{run_id}")
        rendered_plot(page, "loss")
        expect(page.get_by_role("heading", level=1)).to_contain_text(text)
        expect(page.locator("#notes")).to_contain_text(text)
        assert page.evaluate(INJECTED) == 0
    shot(page, "run")

    page.goto(f"/projects/vision/compare?runs={script_run}&runs={img_run}")
    rendered_plot(page.locator("#overlays"), "loss")
    for text in (SCRIPT, IMG):
        expect(page.locator("#param-diff thead")).to_contain_text(text)  # the run's name
        expect(page.locator('#param-diff tr[data-key="p"]')).to_contain_text(text)
    assert page.evaluate(INJECTED) == 0
    shot(page, "compare")

    assert dialogs == []
    # The watch works: the same payload put in as markup does fire.
    with page.expect_event("dialog"):
        page.evaluate(f"document.body.insertAdjacentHTML('beforeend', {IMG!r})")
    assert dialogs == ["alert: 2"]
