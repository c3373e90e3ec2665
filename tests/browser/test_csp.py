"""The portal under its Content-Security-Policy: the pages draw, and the browser
reports no violation (no inline script, no eval, nothing from another origin)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import rendered_plot

pytestmark = pytest.mark.browser

# Every violation the document reports, kept on the window for the test to read.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.effectiveDirective} blocked ${event.blockedURI || "(inline)"} ` +
    `at ${event.sourceFile}:${event.lineNumber}`
  );
});
"""


@pytest.fixture
def watched(signed_in_page):
    """The signed-in page, recording CSP violations (events and Chromium's console
    errors) of every document it opens."""
    page = signed_in_page
    page.add_init_script(RECORD_VIOLATIONS)
    page.console_errors = []
    page.on(
        "console",
        lambda message: message.type == "error" and page.console_errors.append(message.text),
    )
    return page


def script_sources(response) -> list[str]:
    """The script-src sources of a response's Content-Security-Policy."""
    directives = dict(
        part.strip().split(" ", 1)
        for part in response.headers["content-security-policy"].split(";")
    )
    return directives["script-src"].split()


def violations(page) -> list[str]:
    """The current document's CSP violations and every console error so far."""
    return page.evaluate("window.__cspViolations") + page.console_errors


def test_the_runs_table_and_a_run_s_charts_draw_without_a_violation(watched, new_run):
    run_id = new_run(name="resnet", metrics=[("loss", s, 1 / (s + 1)) for s in range(20)])
    response = watched.goto("/projects/vision")
    expect(watched.get_by_role("link", name="resnet", exact=True)).to_be_visible()
    assert script_sources(response) == ["'self'"]
    assert violations(watched) == []

    response = watched.goto(f"/projects/vision/runs/{run_id}")
    plot = rendered_plot(watched, "loss")
    expect(plot.locator("svg.main-svg").first).to_be_attached()
    assert script_sources(response) == ["'self'"]
    assert violations(watched) == []


def test_the_run_page_s_controls_tabs_share_panel_and_downloads_raise_no_violation(
    watched, new_run
):
    values = [1.0, "NaN", 0.5, "Infinity", 0.25]
    run_id = new_run(name="controls", metrics=[("loss", s, v) for s, v in enumerate(values)])
    watched.goto(f"/projects/vision/runs/{run_id}")
    plot = rendered_plot(watched, "loss")
    watched.locator("#chart-smoothing").evaluate(
        "el => { el.value = '0.8'; el.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    expect(plot).to_have_attribute("data-traces", "3")  # raw, smoothed, non-finite marks
    watched.get_by_label("X axis").select_option("relative")
    watched.get_by_label("Chart size").select_option("l")
    chart = watched.locator('.chart[data-key="loss"]')
    chart.get_by_role("button", name="Log y").click()
    chart.locator(".chart-legend button.series").first.click()
    with watched.expect_download():
        chart.get_by_role("button", name="CSV").click()
    with watched.expect_download():
        chart.get_by_role("button", name="PNG").click()
    watched.get_by_role("tab", name="Comments").click()
    expect(watched.locator("#comment-form")).to_be_visible()
    watched.get_by_role("button", name="Share", exact=True).click()
    expect(watched.locator("#share-preview li").first).to_be_visible()
    watched.get_by_label("The hostname").check()
    expect(watched.locator("#share-preview li").last).to_have_text("The hostname")
    assert violations(watched) == []


def test_htmx_never_evaluates_attributes(watched):
    # The comparison pages allow eval (for plotly's WebGL); htmx must not offer it to markup.
    watched.goto("/projects/vision")
    assert watched.evaluate("htmx.config.allowEval") is False


def test_the_compare_page_draws_every_plot_with_eval_allowed_for_webgl_only(watched, new_run):
    # Differing numeric parameters: the parallel-coordinates plot (WebGL, compiled by
    # regl with Function()) draws too.
    ids = [
        new_run(
            name=name, params={"lr": lr}, metrics=[("loss", s, float(lr) * s) for s in range(5)]
        )
        for name, lr in (("a", "0.1"), ("b", "0.01"))
    ]
    response = watched.goto(f"/projects/vision/compare?runs={ids[0]}&runs={ids[1]}")
    plot = rendered_plot(watched.locator("#overlays"), "loss")
    expect(plot.locator("svg.main-svg").first).to_be_attached()
    expect(watched.locator("#summary-bars.rendered svg.main-svg").first).to_be_attached()
    expect(watched.locator("#parallel.rendered canvas").first).to_be_attached()
    assert script_sources(response) == ["'self'", "'unsafe-eval'"]
    assert violations(watched) == []


def test_the_api_docs_render_without_a_violation(watched):
    response = watched.goto("/api/docs/")
    expect(watched.locator(".swagger-ui .info .title")).to_contain_text("Kiroku API")
    expect(watched.locator(".swagger-ui .opblock").first).to_be_visible()
    assert script_sources(response) == ["'self'"]
    assert violations(watched) == []
