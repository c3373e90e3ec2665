"""Selecting runs in the table and comparing them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import rendered_plot, trace_lengths

pytestmark = pytest.mark.browser


def test_three_selected_runs_are_overlaid_and_their_params_diffed(signed_in_page, new_run, shot):
    page = signed_in_page
    ids = {}
    for name, lr, steps in (("a", "0.1", 5), ("b", "0.01", 6), ("c", "0.001", 7), ("d", "1", 8)):
        ids[name] = new_run(
            name=name,
            params={"lr": lr, "batch": "64"},
            metrics=[("loss", s, 1.0 / (s + 1)) for s in range(steps)],
        )
    page.goto("/projects/vision")
    for name in ("a", "b", "c"):
        page.get_by_label(f"Select run {name}", exact=True).check()
    expect(page.locator("#compare-count")).to_have_text("3 selected")
    shot(page, "selected")
    page.get_by_role("button", name="Compare selected runs").click()
    page.wait_for_url("**/projects/vision/compare?*")
    chosen = parse_qs(urlsplit(page.url).query)["runs"]
    assert sorted(chosen) == sorted(ids[name] for name in ("a", "b", "c"))
    plot = rendered_plot(page.locator("#overlays"), "loss")
    expect(plot).to_have_attribute("data-traces", "3")
    assert sorted(trace_lengths(plot)) == [5, 6, 7]
    rows = page.locator("#param-diff tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.key, r.classList.contains('differs')])"
    )
    assert dict(rows) == {"batch": False, "lr": True}
    shot(page, "compare")
