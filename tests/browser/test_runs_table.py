"""The runs table in a browser: filter, inline errors, sorting, the column chooser."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def three_runs(new_run) -> dict[str, str]:
    """Runs a (acc 0.9), b (acc 0.5), c (acc 0.7), oldest first; only a has eval/f1."""
    ids = {}
    for name, acc in (("a", 0.9), ("b", 0.5), ("c", 0.7)):
        metrics = [("acc", 0, acc)] + ([("eval/f1", 0, 0.25)] if name == "a" else [])
        ids[name] = new_run(name=name, metrics=metrics, params={"lr": "0.1"})
    return ids


def names(page):
    return page.locator("#runs tbody td:nth-child(2) a")


def headers(page):
    return page.locator("#runs thead th")


@pytest.fixture
def table(signed_in_page, three_runs):
    signed_in_page.goto("/projects/vision")
    expect(names(signed_in_page)).to_have_text(["c", "b", "a"])
    return signed_in_page


def test_the_filter_shows_exactly_the_matching_runs(table, shot):
    table.locator("#filter").fill("metrics.acc > 0.6")
    table.locator("#filter").press("Enter")
    expect(names(table)).to_have_text(["c", "a"])
    expect(table.locator("#runs caption")).to_have_text("2 runs on this page matching the filter")
    assert parse_qs(urlsplit(table.url).query)["filter"] == ["metrics.acc > 0.6"]  # shareable
    shot(table, "filtered")


def test_a_bad_filter_shows_the_error_at_its_column(table, shot):
    table.locator("#filter").fill("metrics.acc >")
    table.get_by_role("button", name="Search").click()
    error = table.locator("pre#search-error")
    expect(error).to_be_visible()
    # Exact, spaces included: the caret stands under column 14.
    assert error.text_content() == (
        "filter: unexpected end of text at column 14 (expected a quoted string or a number)\n"
        "  metrics.acc >\n"
        "               ^"
    )
    expect(table.get_by_role("alert")).to_contain_text("The filter could not be read.")
    expect(table.locator("#runs")).to_have_count(0)
    shot(table, "bad-filter")


def test_clicking_a_column_header_sorts_by_it(table):
    table.locator("#runs thead th a", has_text="acc").click()
    expect(names(table)).to_have_text(["a", "c", "b"])
    expect(table.locator("#runs thead th", has_text="acc")).to_have_attribute(
        "aria-sort", "descending"
    )
    table.locator("#runs thead th a", has_text="acc").click()
    expect(names(table)).to_have_text(["b", "c", "a"])


def test_the_column_chooser_adds_a_param_column(table, shot):
    # lr is 0.1 in every run, so it is not a default column: "+1 more" counts it.
    expect(headers(table)).to_have_text(
        ["Select", "Name", "Status", "Author", "Created", "Duration", "acc", "eval/f1", "+1 more"]
    )
    table.get_by_text("Columns", exact=True).click()
    table.locator('#column-keys input[value="params.lr"]').check()
    expect(table.locator('#column-keys input[value="metrics.acc"]')).to_be_checked()
    shot(table, "chooser")
    table.get_by_role("button", name="Apply columns").click()
    expect(headers(table)).to_have_text(
        ["Select", "Name", "Status", "Author", "Created", "Duration", "acc", "eval/f1", "param.lr"]
    )
    expect(table.locator("#chooser")).not_to_have_attribute("open", "")
    f1 = table.locator("#runs tbody tr td:nth-child(8)")
    expect(f1).to_have_text(["—", "—", "0.25"])
    expect(table.locator("#columns-note")).to_contain_text("Your columns.")
    # The choice is the reader's now: a new filter keeps it, and the defaults come back.
    table.locator("#filter").fill("metrics.acc > 0.6")
    table.locator("#filter").press("Enter")
    expect(names(table)).to_have_text(["c", "a"])
    expect(headers(table).last).to_have_text("param.lr")
    table.get_by_role("link", name="Back to the default columns").click()
    expect(headers(table).last).to_have_text("+1 more")
    expect(names(table)).to_have_text(["c", "a"])


def test_default_columns_stay_after_a_run_with_other_keys(table, new_run, shot):
    new_run(name="d", metrics=[("val/bleu", 0, 0.3), ("val/ter", 0, 0.6)])
    table.reload()
    expect(names(table)).to_have_text(["d", "c", "b", "a"])
    # acc is in 3 runs, eval/f1 and the new keys in 1; lr varies now (d has none).
    expect(headers(table)).to_have_text(
        ["Select", "Name", "Status", "Author", "Created", "Duration",
         "acc", "eval/f1", "val/bleu", "val/ter", "param.lr"]
    )  # fmt: skip
    acc = table.locator("#runs tbody tr td:nth-child(7)")
    expect(acc).to_have_text(["—", "0.7", "0.5", "0.9"])
    lr = table.locator("#runs tbody tr td:nth-child(11)")
    expect(lr).to_have_text(["—", "0.1", "0.1", "0.1"])
    shot(table, "after-new-run")


def box(locator) -> tuple[float, float, float, float]:
    found = locator.bounding_box()
    return (found["x"], found["y"], found["width"], found["height"])


def test_more_opens_the_chooser_without_moving_the_table(table, shot):
    runs = table.locator("#runs")
    before = box(runs)
    table.get_by_role("button", name="+1 more").click()
    expect(table.locator("#chooser")).to_have_attribute("open", "")
    expect(table.locator('#column-keys input[value="params.lr"]')).not_to_be_checked()
    expect(table.locator("#column-search")).to_be_focused()
    assert box(runs) == before
    shot(table, "chooser-open")
    table.keyboard.press("Escape")
    expect(table.locator("#chooser")).not_to_have_attribute("open", "")
    # Opened from its own summary, the same.
    table.get_by_text("Columns", exact=True).click()
    expect(table.locator("#chooser .chooser-panel")).to_be_visible()
    assert box(runs) == before


def test_on_a_phone_the_panels_stay_on_the_page(table, shot):
    table.set_viewport_size({"width": 390, "height": 800})
    runs = table.locator("#runs")
    before = box(runs)
    for summary, panel in (("Columns", "#chooser"), ("Saved views", "details.popover >> nth=1")):
        table.get_by_text(summary, exact=True).click()
        shown = table.locator(panel).locator(".popover-panel")
        expect(shown).to_be_visible()
        left, _, width, _ = box(shown)
        assert left >= 0 and left + width <= 390
        assert table.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert box(runs) == before
        shot(table, f"phone-{summary.split()[0].lower()}")


@pytest.mark.parametrize("width", [1280, 390])
def test_the_search_error_wraps_inside_its_block(table, shot, width):
    table.set_viewport_size({"width": width, "height": 900})
    table.locator("#filter").fill("metricz.acc > 0.5")
    table.locator("#filter").press("Enter")
    error = table.locator("pre#search-error")
    expect(error).to_contain_text("did you mean `metrics.`?")
    expect(error).to_contain_text("start_time, end_time, duration)")
    # Nothing is cut off or scrolled away: the message fits its block, which fits the page.
    assert error.evaluate("el => el.scrollWidth <= el.clientWidth")
    message = box(table.locator("#search-error .search-error-message"))
    block = box(error)
    assert message[0] + message[2] <= block[0] + block[2]
    assert table.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(table, f"error-{width}")


def test_an_unknown_key_says_so_and_offers_the_closest(table, shot):
    table.locator("#filter").fill("metrics.eval/f2 > 0")
    table.locator("#filter").press("Enter")
    hint = table.locator(".search-hint")
    expect(hint).to_have_text(
        "No run in this project has metric eval/f2. Closest: metrics.eval/f1."
    )
    shot(table, "unknown-key")
    hint.get_by_role("link", name="metrics.eval/f1").click()
    expect(names(table)).to_have_text(["a"])
    assert parse_qs(urlsplit(table.url).query)["filter"] == ["metrics.eval/f1 > 0"]
