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


def test_the_column_chooser_adds_a_metric_column(table, shot):
    expect(headers(table)).to_have_text(
        ["Select", "Name", "Status", "Author", "Created", "Duration", "acc", "param.lr"]
    )
    table.get_by_text("Columns", exact=True).click()
    table.locator('#column-keys input[value="metrics.eval/f1"]').check()
    shot(table, "chooser")
    table.get_by_role("button", name="Apply columns").click()
    expect(headers(table)).to_have_text(
        ["Select", "Name", "Status", "Author", "Created", "Duration", "acc", "eval/f1", "param.lr"]
    )
    f1 = table.locator("#runs tbody tr td:nth-child(8)")
    expect(f1).to_have_text(["—", "—", "0.25"])
