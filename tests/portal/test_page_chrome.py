"""What every page carries and the small things on many: the favicon, the 記録 mark drawn
as paths, the header's link to the API docs, "just now", and a control and its button
on one row (the runs filter and Search, a comparison's name and Save)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from apps.portal.formatting import human_ago

ICON_LINK = '<link rel="icon" href="/static/portal/favicon.svg" type="image/svg+xml">'


# ---- the favicon -------------------------------------------------------------------


@pytest.mark.django_db
def test_favicon_ico_redirects_to_the_svg_icon():
    response = Client().get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/portal/favicon.svg"


@pytest.mark.django_db
def test_the_svg_icon_is_served():
    response = Client().get("/static/portal/favicon.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body.startswith(b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">')
    assert b"<text" not in body  # a path, so no font is needed


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [False, True])
def test_every_page_names_the_icon(portal_as, member, project, signed_in):
    client = portal_as(member if signed_in else None)
    html = client.get("/projects" if signed_in else "/login").content.decode()
    assert html.count(ICON_LINK) == 1


# ---- the mark ----------------------------------------------------------------------


def brand(html: str) -> str:
    return re.search(r'<(?:a|span) class="brand"[^>]*>(.*?)</(?:a|span)>', html, re.S).group(1)


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [False, True])
def test_the_mark_is_drawn_as_paths_not_cjk_text(portal_as, member, project, signed_in):
    client = portal_as(member if signed_in else None)
    html = client.get("/projects" if signed_in else "/login").content.decode()
    mark = brand(html)
    assert mark.startswith(
        '<svg class="mark" viewBox="0 0 200 100" fill="currentColor" aria-hidden="true"'
        ' focusable="false"><path d="M'
    )
    assert mark.endswith("</svg>\nKiroku")
    # Not a glyph anywhere: without a CJK font it would be two boxes.
    assert "記" not in html and "録" not in html


# ---- the header's link to the API docs ---------------------------------------------


@pytest.mark.django_db
def test_the_header_links_the_api_docs(portal_as, member, project):
    html = portal_as(member).get("/projects").content.decode()
    header = re.search(r'<header class="top">(.*?)</header>', html, re.S).group(1)
    assert '<a href="/api/docs/" id="api-docs-link">API docs</a>' in header
    assert Client().get("/api/docs/").status_code == 200


# ---- "just now" --------------------------------------------------------------------

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("before", "said"),
    [
        (timedelta(0), "just now"),
        (timedelta(seconds=59), "just now"),
        (timedelta(seconds=-30), "just now"),  # a clock a little ahead
        (timedelta(minutes=1), "1\xa0minute ago"),
        (timedelta(hours=2, minutes=5), "2\xa0hours, 5\xa0minutes ago"),
    ],
)
def test_human_ago(before, said):
    assert human_ago(NOW - before, now=NOW) == said


def test_human_ago_of_nothing_is_a_dash():
    assert human_ago(None) == "—"


@pytest.mark.django_db
def test_a_new_run_was_created_just_now_not_zero_minutes_ago(portal_as, member, make_run):
    make_run(name="fresh")
    html = portal_as(member).get("/projects/vision").content.decode()
    assert re.search(r"<time datetime=\"[^\"]+\" title=\"[^\"]+\">just now</time>", html)
    assert "0\xa0minutes" not in html


@pytest.mark.django_db
def test_a_new_token_was_created_just_now(portal_as, member):
    portal_as(member).post("/tokens", {"name": "laptop"})
    html = portal_as(member).get("/tokens").content.decode()
    assert ">just now</time></td>\n    <td>never</td>" in html


# ---- a control and its button on one row -------------------------------------------


@pytest.mark.django_db
def test_search_sits_in_the_filter_row(portal_as, member, make_run):
    make_run(name="a")
    html = portal_as(member).get("/projects/vision").content.decode()
    row = re.search(r'<div class="field-row">(.*?)</div>', html, re.S).group(1)
    assert re.findall(r"<(input|button)\b[^>]*>", row) == ["input", "button"]
    assert 'id="filter"' in row and '<button type="submit">Search</button>' in row


@pytest.mark.django_db
def test_save_sits_beside_the_comparison_name(portal_as, member, make_run):
    ids = [make_run(name=name) for name in ("a", "b")]
    html = portal_as(member).get(f"/projects/vision/compare?runs={ids[0]}&runs={ids[1]}")
    form = re.search(r'<form id="save-comparison".*?</form>', html.content.decode(), re.S)
    row = re.search(r'<div class="field-row">(.*?)</div>', form.group(0), re.S).group(1)
    assert 'id="comparison-name"' in row and '<button type="submit">Save</button>' in row
