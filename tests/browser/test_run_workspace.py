"""The run page as a charts workspace, in a browser: the charts come first in a grid
that follows the width, the controls of every chart (smoothing, x axis, size) and of
each one (log y, series, CSV, PNG), non-finite points, the tabs below the charts and
the share panel the header's button opens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ema, rendered_plot, trace_lengths, trace_values

pytestmark = pytest.mark.browser

START = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
LOSS = '.chart[data-key="loss"] .plot'


def stamp(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def log_points(api, run_id: str, points, *, batch: str = "points") -> None:
    """``points``: ``(key, step, value, seconds after START)``."""
    body = {
        "batch_id": batch,
        "metrics": [
            {"key": key, "step": step, "value": value, "timestamp": stamp(seconds)}
            for key, step, value, seconds in points
        ],
    }
    response = api.post(f"/runs/{run_id}/log", json=body)
    assert response.status_code == 200, response.text


@pytest.fixture
def timed_run(api, new_run):
    """``timed_run(points, name=...)``: a run started at START with ``points`` logged as
    ``(key, step, value, seconds after START)``; returns its id."""

    def build(points, name: str = "timed", **body) -> str:
        run_id = new_run(name=name, started_at=stamp(0), **body)
        log_points(api, run_id, points)
        return run_id

    return build


def set_smoothing(page, weight: float) -> None:
    # A range input cannot be typed into: set it as a drag would, with its input event.
    page.locator("#chart-smoothing").evaluate(
        "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }",
        str(weight),
    )


def columns(page, prefix: str) -> int:
    """How many columns the charts of one group take: their distinct left edges."""
    charts = page.locator(f'details.chart-group[data-prefix="{prefix}"] .chart')
    return charts.evaluate_all(
        "els => new Set(els.map(el => Math.round(el.getBoundingClientRect().left))).size"
    )


def plot_of(page, key: str):
    return page.locator(f'.chart[data-key="{key}"] .plot')


NOISY = [1.0, 3.0, 0.5, 2.5, 0.2, 2.0, 0.1, 1.5]


# Layout ------------------------------------------------------------------------------


def test_the_charts_come_first_in_a_grid_that_follows_the_width(
    signed_in_page, timed_run, api, shot
):
    page = signed_in_page
    keys = ["acc", "loss", "lr", "step_time"]
    points = [(key, s, 1.0 / (s + 1), 10 * s) for key in keys for s in range(20)]
    run_id = timed_run(points, name="wide", git={"commit": "3f2a9c1d0b7e", "branch": "main"})
    assert api.post(f"/runs/{run_id}/finish", json={"status": "finished"}).status_code == 200
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"/projects/vision/runs/{run_id}")
    for key in keys:
        rendered_plot(page, key)

    # The compact header, then the charts, then the tabs.
    expect(page.locator("#run-status")).to_have_text("finished")
    expect(page.locator(".run-meta")).to_contain_text("bob_member")
    expect(page.locator("#run-git")).to_have_text("main @ 3f2a9c1")
    expect(page.locator("#key-metrics dt")).to_have_text(keys)
    header = page.locator("#run-head").bounding_box()
    first_chart = page.locator(".chart").first.bounding_box()
    tabs = page.get_by_role("tablist", name="About this run").bounding_box()
    assert header["y"] + header["height"] <= first_chart["y"] < tabs["y"]
    assert first_chart["y"] < 900  # on the first screen
    # Four charts at 1440 px: three a row (medium), two a row when large.
    assert columns(page, "other") == 3
    shot(page, "1440")
    page.get_by_label("Chart size").select_option("l")
    expect(page.locator("#charts")).to_have_attribute("data-size", "l")
    assert columns(page, "other") == 2
    page.get_by_label("Chart size").select_option("m")

    # One a row on a phone, each plot as wide as its chart.
    page.set_viewport_size({"width": 390, "height": 844})
    assert columns(page, "other") == 1
    plot = rendered_plot(page, "loss")
    page.wait_for_function(
        "() => { const el = document.querySelector('.chart[data-key=\"loss\"] .plot');"
        " return Math.abs(el._fullLayout.width - el.clientWidth) < 2; }"
    )
    assert plot.bounding_box()["width"] < 390
    shot(page, "390")


# Controls of every chart ---------------------------------------------------------------


def test_smoothing_draws_a_smoothed_line_and_keeps_the_raw_one_faint(
    signed_in_page, timed_run, shot
):
    page = signed_in_page
    run_id = timed_run([("loss", s, v, s) for s, v in enumerate(NOISY)])
    page.goto(f"/projects/vision/runs/{run_id}")
    plot = rendered_plot(page, "loss")
    assert trace_values(plot) == [NOISY]  # no smoothing by default: the data as logged

    set_smoothing(page, 0.6)
    expect(page.locator("#chart-smoothing-value")).to_have_text("0.6")
    expect(plot).to_have_attribute("data-traces", "2")
    raw, smooth = trace_values(plot)
    assert raw == NOISY
    assert smooth == pytest.approx(ema(NOISY, 0.6))
    assert plot.evaluate("el => el.data.map(trace => trace.opacity ?? 1)") == [0.25, 1]
    expect(page.locator('.chart[data-key="loss"] .chart-legend button.series')).to_have_text(
        ["loss (raw)", "loss (smoothed)"]
    )
    shot(page, "smoothed")

    # Remembered: the next page draws smoothed at once.
    page.reload()
    plot = rendered_plot(page, "loss")
    expect(page.locator("#chart-smoothing")).to_have_value("0.6")
    expect(plot).to_have_attribute("data-traces", "2")
    set_smoothing(page, 0)
    expect(plot).to_have_attribute("data-traces", "1")
    assert trace_values(plot) == [NOISY]


def test_the_x_axis_is_the_step_the_time_since_the_start_or_the_wall_clock(
    signed_in_page, timed_run
):
    page = signed_in_page
    # A point every 30 s for 10 minutes: minutes since the start.
    run_id = timed_run([("loss", s, float(s), 30 * s) for s in range(21)])
    page.goto(f"/projects/vision/runs/{run_id}")
    plot = rendered_plot(page, "loss")
    assert plot.evaluate("el => Array.from(el.data[0].x)") == list(range(21))

    page.get_by_label("X axis").select_option("relative")
    page.wait_for_function(f"() => document.querySelector('{LOSS}').data[0].x[1] === 0.5")
    assert plot.evaluate("el => Array.from(el.data[0].x)") == [s / 2 for s in range(21)]
    assert plot.evaluate("el => el.layout.xaxis.title.text") == "time since the run started (min)"
    assert trace_values(plot) == [[float(s) for s in range(21)]]
    # Zooming on a time axis fetches the steps drawn inside the range.
    plot.evaluate("el => Plotly.relayout(el, {'xaxis.range[0]': 2, 'xaxis.range[1]': 4})")
    expect(page.locator('.chart[data-key="loss"] .chart-note')).to_have_text(
        "All 5 points in steps 4\u20138."
    )
    assert plot.evaluate("el => Array.from(el.data[0].x)") == [2, 2.5, 3, 3.5, 4]
    plot.evaluate("el => Plotly.relayout(el, {'xaxis.autorange': true})")
    page.wait_for_function(f"() => document.querySelector('{LOSS}').data[0].x.length === 21")

    page.get_by_label("X axis").select_option("wall")
    page.wait_for_function(f"() => document.querySelector('{LOSS}').layout.xaxis.type === 'date'")
    wall = plot.evaluate("el => Array.from(el.data[0].x)")
    assert wall[:3] == [
        "2026-01-01 10:00:00.000",
        "2026-01-01 10:00:30.000",
        "2026-01-01 10:01:00.000",
    ]
    assert len(wall) == 21

    page.get_by_label("X axis").select_option("step")
    page.wait_for_function(f"() => document.querySelector('{LOSS}').data[0].x[1] === 1")


# Controls of each chart ----------------------------------------------------------------


def test_log_y_is_a_toggle_of_each_chart(signed_in_page, timed_run):
    page = signed_in_page
    run_id = timed_run([(key, s, 10.0**-s, s) for key in ("loss", "lr") for s in range(6)])
    page.goto(f"/projects/vision/runs/{run_id}")
    plot = rendered_plot(page, "loss")
    assert plot.evaluate("el => el.layout.yaxis.type") == "linear"
    toggle = page.locator('.chart[data-key="loss"]').get_by_role("button", name="Log y")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    page.wait_for_function(f"() => document.querySelector('{LOSS}').layout.yaxis.type === 'log'")
    assert rendered_plot(page, "lr").evaluate("el => el.layout.yaxis.type") == "linear"
    # Remembered for the metric key.
    page.reload()
    plot = rendered_plot(page, "loss")
    assert plot.evaluate("el => el.layout.yaxis.type") == "log"
    page.locator('.chart[data-key="loss"]').get_by_role("button", name="Log y").click()
    page.wait_for_function(f"() => document.querySelector('{LOSS}').layout.yaxis.type === 'linear'")


def test_a_series_hides_and_shows_from_the_legend(signed_in_page, timed_run):
    page = signed_in_page
    run_id = timed_run([("loss", s, v, s) for s, v in enumerate(NOISY)])
    page.goto(f"/projects/vision/runs/{run_id}")
    plot = rendered_plot(page, "loss")
    set_smoothing(page, 0.5)
    expect(plot).to_have_attribute("data-traces", "2")
    legend = page.locator('.chart[data-key="loss"] .chart-legend')
    raw = legend.get_by_role("button", name="loss (raw)")
    raw.click()
    expect(raw).to_have_attribute("aria-pressed", "false")
    page.wait_for_function(f"() => document.querySelector('{LOSS}').data[0].visible === false")
    assert plot.evaluate("el => el.data[1].visible") is True
    # Hidden it stays, whatever the smoothing, until pressed again.
    set_smoothing(page, 0.7)
    page.wait_for_function(
        f"() => document.querySelector('{LOSS}').data[1].hovertemplate.includes('0.7')"
    )
    assert plot.evaluate("el => el.data[0].visible") is False
    raw.click()
    expect(raw).to_have_attribute("aria-pressed", "true")
    page.wait_for_function(f"() => document.querySelector('{LOSS}').data[0].visible === true")


def test_the_data_downloads_as_csv_and_the_chart_as_png(signed_in_page, timed_run):
    page = signed_in_page
    values = [1.0, 0.5, "NaN", 0.25, "Infinity", 1e-300]
    run_id = timed_run([("train/loss", s, v, 10 * s) for s, v in enumerate(values)], name="r1")
    page.goto(f"/projects/vision/runs/{run_id}")
    rendered_plot(page, "train/loss")
    chart = page.locator('.chart[data-key="train/loss"]')

    with page.expect_download() as info:
        chart.get_by_role("button", name="CSV").click()
    download = info.value
    assert download.suggested_filename == "r1-train_loss.csv"
    with open(download.path(), encoding="utf-8") as csv:
        assert csv.read() == (
            "step,value,timestamp\n"
            "0,1,2026-01-01T10:00:00Z\n"
            "1,0.5,2026-01-01T10:00:10Z\n"
            "2,NaN,2026-01-01T10:00:20Z\n"
            "3,0.25,2026-01-01T10:00:30Z\n"
            "4,Infinity,2026-01-01T10:00:40Z\n"
            "5,1e-300,2026-01-01T10:00:50Z\n"
        )

    with page.expect_download() as info:
        chart.get_by_role("button", name="PNG").click()
    download = info.value
    assert download.suggested_filename == "r1-train_loss.png"
    with open(download.path(), "rb") as image:
        assert image.read(8) == b"\x89PNG\r\n\x1a\n"


def test_the_csv_holds_every_point_of_a_downsampled_chart(signed_in_page, new_run):
    page = signed_in_page
    run_id = new_run(name="long", metrics=[("loss", s, float(s)) for s in range(12_000)])
    page.goto(f"/projects/vision/runs/{run_id}")
    [drawn] = trace_lengths(rendered_plot(page, "loss"))
    assert drawn <= 1000
    with page.expect_download() as info:
        page.locator('.chart[data-key="loss"]').get_by_role("button", name="CSV").click()
    with open(info.value.path(), encoding="utf-8") as csv:
        lines = csv.read().splitlines()
    assert len(lines) == 1 + 12_000
    assert [line.split(",")[:2] for line in lines[1:]] == [[str(s), str(s)] for s in range(12_000)]


# Non-finite values -------------------------------------------------------------------------


def test_non_finite_points_are_marked_at_the_edge_and_counted(signed_in_page, timed_run, shot):
    page = signed_in_page
    values = [1.0, "NaN", 0.5, "Infinity", 0.25, "-Infinity", 0.125, "NaN"]
    run_id = timed_run([("loss", s, v, s) for s, v in enumerate(values)])
    page.goto(f"/projects/vision/runs/{run_id}")
    plot = rendered_plot(page, "loss")
    expect(plot).to_have_attribute("data-traces", "2")
    assert trace_values(plot)[0] == [1.0, None, 0.5, None, 0.25, None, 0.125, None]
    marks = plot.evaluate(
        "el => ({x: Array.from(el.data[1].x), y: Array.from(el.data[1].y),"
        " text: Array.from(el.data[1].text), axis: el.data[1].yaxis})"
    )
    # +∞ and NaN on the top edge, -∞ on the bottom one, of an axis of their own.
    assert marks == {
        "x": [1, 3, 5, 7],
        "y": [1, 1, 0, 1],
        "text": ["NaN", "+Infinity", "-Infinity", "NaN"],
        "axis": "y2",
    }
    legend = page.locator('.chart[data-key="loss"] .chart-legend button.series')
    expect(legend).to_have_text(["loss", "4 non-finite (2 NaN, 1 +∞, 1 -∞)"])
    shot(page, "non-finite")


def test_a_chart_with_only_non_finite_values_says_so(signed_in_page, timed_run, shot):
    page = signed_in_page
    points = [("diverged", s, v, s) for s, v in enumerate(["NaN", "NaN", "Infinity"])]
    run_id = timed_run([*points, ("loss", 0, 1.0, 0)])
    page.goto(f"/projects/vision/runs/{run_id}")
    plot = rendered_plot(page, "diverged")
    chart = page.locator('.chart[data-key="diverged"]')
    expect(chart.locator(".chart-empty")).to_have_text(
        "Every point of diverged is non-finite (2 NaN, 1 +∞): there is no line to draw."
    )
    expect(plot).to_have_attribute("data-traces", "0")
    expect(plot.locator("svg")).to_have_count(0)  # no empty axes
    expect(chart.get_by_role("button", name="PNG")).to_be_disabled()
    shot(page, "only-non-finite")


# Tabs and the share panel --------------------------------------------------------------


def test_the_tabs_switch_in_place_and_open_at_an_anchor(signed_in_page, new_run):
    page = signed_in_page
    run_id = new_run(name="tabs", notes="Tried **warmup**.", params={"lr": "0.1"})
    page.goto(f"/projects/vision/runs/{run_id}")
    tablist = page.get_by_role("tablist", name="About this run")
    expect(tablist.get_by_role("tab")).to_have_text(
        ["Overview", "Params 1", "Summary 0", "Notes", "Comments", "Artifacts"]
    )
    overview = page.get_by_role("tab", name="Overview")
    expect(overview).to_have_attribute("aria-selected", "true")
    expect(page.locator("#overview")).to_be_visible()
    expect(page.locator("#params")).to_be_hidden()

    page.evaluate("window.__samePage = true")
    page.get_by_role("tab", name="Params").click()
    expect(page.get_by_role("tab", name="Params")).to_have_attribute("aria-selected", "true")
    expect(overview).to_have_attribute("aria-selected", "false")
    expect(page.locator("#params-table")).to_contain_text("0.1")
    expect(page.locator("#overview")).to_be_hidden()
    # Arrow keys move along the tabs.
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Summary")).to_be_focused()
    expect(page.locator("#summary")).to_be_visible()
    assert page.evaluate("window.__samePage") is True
    assert page.url.endswith("#summary")

    # An anchor inside a panel (where saving the notes leads) opens its tab.
    page.goto(f"/projects/vision/runs/{run_id}#notes")
    expect(page.get_by_role("tab", name="Notes")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#notes-body strong")).to_have_text("warmup")


def test_a_link_to_a_comment_opens_the_comments_tab_at_it(signed_in_page, new_run, api):
    page = signed_in_page
    run_id = new_run(name="discussed")
    answer = api.post(f"/runs/{run_id}/comments", json={"body": "Diverged at **step 40**"})
    assert answer.status_code == 201, answer.text
    # A mention's notification links to the comment; the thread loads after the page.
    page.goto(f"/projects/vision/runs/{run_id}#comment-{answer.json()['id']}")
    expect(page.get_by_role("tab", name="Comments")).to_have_attribute("aria-selected", "true")
    comment = page.locator(f"#comment-{answer.json()['id']}")
    expect(comment).to_be_visible()
    expect(comment).to_contain_text("Diverged at step 40")
    expect(comment).to_be_in_viewport()


def test_the_header_s_share_button_opens_the_share_panel(signed_in_page, new_run, shot):
    page = signed_in_page
    run_id = new_run(name="to-share")
    page.goto(f"/projects/vision/runs/{run_id}")
    dialog = page.get_by_role("dialog", name="Share this run")
    expect(dialog).to_be_hidden()
    share = page.get_by_role("button", name="Share", exact=True)
    share.click()
    expect(dialog).to_be_visible()
    expect(share).to_have_attribute("aria-expanded", "true")
    expect(dialog.get_by_role("button", name="Create share link")).to_be_visible()
    shot(page, "share-panel")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(share).to_be_focused()
    expect(share).to_have_attribute("aria-expanded", "false")
