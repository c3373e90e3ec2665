"""Comments with a mention, and a share link opened by someone with no account."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import rendered_plot, trace_lengths

pytestmark = pytest.mark.browser


def test_a_comment_a_share_link_and_nothing_beyond_the_run(
    signed_in_page, browser, live_server, new_run, shot
):
    page = signed_in_page
    shared_id = new_run(name="shared-run", metrics=[("loss", s, 1.0 / (s + 1)) for s in range(4)])
    secret_id = new_run(name="secret-run", metrics=[("loss", 0, 9.0)])
    page.goto(f"/projects/vision/runs/{shared_id}")

    # A comment mentioning a teammate, posted without a page reload, from the Comments tab
    # below the charts.
    page.get_by_role("tab", name="Comments").click()
    page.evaluate("window.__samePage = true")
    page.get_by_label("Add a comment").fill("Looks good @carol_viewer, **ship it**")
    page.get_by_role("button", name="Comment", exact=True).click()
    mention = page.locator("#comments-thread a.mention")
    expect(mention).to_have_text("@carol_viewer")
    expect(page.locator("#comments-thread strong", has_text="ship it")).to_be_visible()
    # No navigation happened (the tab only put its anchor in the address).
    assert page.url.endswith(f"/runs/{shared_id}#comments")
    assert page.evaluate("window.__samePage") is True

    # A 24-hour share link, shown once, from the panel the header's Share button opens.
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.get_by_role("dialog", name="Share this run")).to_be_visible()
    page.locator("#share-expires").select_option(label="24 hours")
    page.get_by_role("button", name="Create share link").click()
    url = page.locator("#share-url").input_value()
    assert url.startswith(f"{live_server.url}/s/")
    shot(page, "run-with-comment-and-link")

    # Someone with no account, in a fresh browser context with no session.
    stranger = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        visitor = stranger.new_page()
        visitor.goto(url)
        expect(visitor.locator("h1")).to_contain_text("shared-run")
        expect(rendered_plot(visitor, "loss")).to_have_attribute("data-traces", "1")
        assert trace_lengths(rendered_plot(visitor, "loss")) == [4]
        assert visitor.locator("form").count() == 0
        assert visitor.locator("a[href^='/projects']").count() == 0
        shot(visitor, "shared-page")
        # Nothing beyond that run: the project, the other run and the API are closed.
        visitor.goto(f"{live_server.url}/projects/vision/runs/{secret_id}")
        assert "/login" in visitor.url
        answer = visitor.request.get(f"{live_server.url}/api/v1/runs/{secret_id}")
        assert answer.status == 401
        refused = visitor.request.post(url)
        assert refused.status == 403
    finally:
        stranger.close()

    # Revoked: the link is dead at once.
    page.reload()
    page.get_by_role("button", name="Share", exact=True).click()
    page.get_by_role("button", name="Revoke").click()
    expect(page.locator("#share-links")).to_contain_text("revoked")
    gone = browser.new_context()
    try:
        assert gone.new_page().goto(url).status == 404
    finally:
        gone.close()
