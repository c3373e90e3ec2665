"""The share panel in a real browser: the "will show" list follows the boxes as they are
ticked (htmx, no inline script under the strict CSP), the new link's row says what it
reveals, and a visitor sees exactly that."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.collab.models import SHARE_SHOWN

pytestmark = pytest.mark.browser

RUN = {
    "name": "shared-run",
    "git": {"commit": "c0ffee", "branch": "feature/x", "diff": "+# DIFFMARK\n"},
    "environment": {
        "python": "3.11.7",
        "command": ["python", "train.py", "--COMMANDMARK"],
        "hostname": "HOSTMARK-07",
        "cwd": "/home/alice/CWDMARK",
    },
}


def test_the_panel_lists_what_a_link_will_show_as_boxes_are_ticked(
    signed_in_page, browser, new_run, shot
):
    page = signed_in_page
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    run_id = new_run(metrics=[("loss", 0, 1.0)], **RUN)
    page.goto(f"/projects/vision/runs/{run_id}")
    page.get_by_role("button", name="Share", exact=True).click()
    listed = page.locator("#share-will-show li")
    expect(listed).to_have_text(list(SHARE_SHOWN))

    page.get_by_label("The command line").check()
    expect(listed).to_have_text([*SHARE_SHOWN, "The command line"])
    page.get_by_label("The hostname").check()
    expect(listed).to_have_text([*SHARE_SHOWN, "The command line", "The hostname"])
    page.get_by_label("The command line").uncheck()
    expect(listed).to_have_text([*SHARE_SHOWN, "The hostname"])
    page.get_by_label("The command line").check()
    expect(listed).to_have_text([*SHARE_SHOWN, "The command line", "The hostname"])
    shot(page, "share-panel-ticked")

    page.get_by_role("button", name="Create share link").click()
    url = page.locator("#share-url").input_value()
    expect(page.locator("#share-links td.share-reveals")).to_have_text("command line, hostname")
    # The form starts again from the defaults.
    expect(listed).to_have_text(list(SHARE_SHOWN))
    assert errors == []  # no script refused by the CSP, no failed request

    stranger = browser.new_context()
    try:
        visitor = stranger.new_page()
        visitor.goto(url)
        expect(visitor.locator("#env-command")).to_contain_text("--COMMANDMARK")
        expect(visitor.locator("#environment")).to_contain_text("HOSTMARK-07")
        expect(visitor.locator("#code-withheld")).to_have_text(
            "Not shown through this link: git, directories."
        )
        # The whole document, hidden tabs and attributes included, not only what shows.
        body = visitor.content()
        assert "DIFFMARK" not in body
        assert "c0ffee" not in body
        assert "CWDMARK" not in body
        assert "3.11.7" not in body
        shot(visitor, "shared-command-and-host")
    finally:
        stranger.close()
