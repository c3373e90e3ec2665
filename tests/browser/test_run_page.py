"""A run's page in a browser: its charts draw, the full-resolution toggle, live refresh."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log, rendered_plot, trace_lengths, trace_values

pytestmark = pytest.mark.browser

LOSS = '.chart[data-key="loss"] .plot'


def test_a_run_opened_from_the_table_draws_one_trace_per_chart(signed_in_page, new_run, shot):
    page = signed_in_page
    run_id = new_run(name="resnet", metrics=[("loss", s, 1 / (s + 1)) for s in range(50)])
    page.goto("/projects/vision")
    page.get_by_role("link", name="resnet", exact=True).click()
    page.wait_for_url(f"**/projects/vision/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_class("badge RUNNING")
    plot = rendered_plot(page, "loss")
    expect(plot).to_have_attribute("data-traces", "1")
    assert trace_lengths(plot) == [50]
    shot(page, "run")


def test_the_full_resolution_toggle_draws_every_point(signed_in_page, new_run, shot):
    page = signed_in_page
    # 12,000 points: more than any downsampled answer (at most 10,000), with one spike.
    points = [("loss", s, 100.0 if s == 7777 else 1.0) for s in range(12_000)]
    run_id = new_run(name="long", metrics=points)
    page.goto(f"/projects/vision/runs/{run_id}")
    plot = rendered_plot(page, "loss")
    [drawn] = trace_lengths(plot)
    assert drawn <= 1000
    assert max(trace_values(plot)[0]) == 100.0  # the spike survives downsampling
    page.get_by_label("Full resolution").check()
    page.wait_for_function(f"() => document.querySelector('{LOSS}').data[0].x.length === 12000")
    expect(page.locator(f"{LOSS}.rendered")).to_have_attribute("data-traces", "1")
    assert trace_lengths(page.locator(LOSS)) == [12_000]
    shot(page, "full-resolution")


def test_a_running_run_s_chart_grows_as_points_arrive(signed_in_page, new_run, api):
    page = signed_in_page
    run_id = new_run(name="live", metrics=[("loss", s, 1.0) for s in range(10)])
    page.goto(f"/projects/vision/runs/{run_id}")
    assert trace_lengths(rendered_plot(page, "loss")) == [10]
    log(api, run_id, [("loss", s, 0.5) for s in range(10, 25)], batch="more")
    page.wait_for_function(
        f"() => document.querySelector('{LOSS}').data[0].x.length === 25", timeout=20_000
    )
    assert trace_values(page.locator(LOSS)) == [[1.0] * 10 + [0.5] * 15]
