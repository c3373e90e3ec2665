"""The share panel says what a link will show before it is made (a list reloaded with
htmx as boxes are ticked), makes the link with the parts ticked, and each link's row
says what it shows beyond the defaults."""

from __future__ import annotations

import re
from html import unescape

import pytest

from apps.accounts.principal import Principal
from apps.collab.models import SHARE_PARTS, SHARE_SHOWN, SHARE_SHOWN_COMPARISON, ShareLink
from apps.collab.services import comparison_create
from apps.runs.models import Run

pytestmark = pytest.mark.django_db


@pytest.fixture
def share_url(run_id) -> str:
    return f"/projects/vision/runs/{run_id}/share"


def will_show(html: str) -> list[str]:
    listed = re.search(r'<ul id="share-will-show"[^>]*>(.*?)</ul>', html, re.S).group(1)
    return [unescape(item) for item in re.findall(r"<li>(.*?)</li>", listed)]


def test_the_panel_offers_each_part_unticked_and_lists_the_defaults(portal_as, member, share_url):
    html = portal_as(member).get(share_url).content.decode()
    box = r'<input type="checkbox" id="share-(\w+)" name="include_(\w+)"( checked)?>'
    boxes = re.findall(box, html)
    assert boxes == [(part.name, part.name, "") for part in SHARE_PARTS]
    assert will_show(html) == list(SHARE_SHOWN)
    # The list reloads itself from the form's fields on every change, through htmx.
    assert (
        f'<div id="share-preview" hx-get="{share_url}?preview" '
        'hx-trigger="change from:closest form" hx-include="closest form" hx-target="this" '
        'hx-swap="innerHTML" aria-live="polite">' in html
    )


def test_the_preview_lists_the_defaults_then_the_parts_ticked(portal_as, member, share_url):
    answer = portal_as(member).get(
        share_url,
        {"preview": "", "expires_in": "86400", "include_artifacts": "on", "include_host": "on"},
    )
    assert answer.status_code == 200
    assert will_show(answer.content.decode()) == [
        *SHARE_SHOWN,
        "The hostname",
        "The files (browse and download the artifacts)",
    ]


def test_a_viewer_gets_no_preview(portal_as, viewer, share_url):
    assert portal_as(viewer).get(share_url, {"preview": ""}).status_code == 403


def test_the_link_shows_the_parts_ticked_and_its_row_says_so(portal_as, member, share_url):
    html = (
        portal_as(member)
        .post(share_url, {"expires_in": "86400", "include_command": "on", "include_ci": "on"})
        .content.decode()
    )
    link = ShareLink.objects.get()
    assert link.reveals == ["command", "ci"]
    assert '<td class="share-reveals" data-reveals="command ci">command line, CI</td>' in html
    # After creating, the form starts again from the defaults.
    assert will_show(html) == list(SHARE_SHOWN)


def test_a_default_links_row_says_it_shows_only_the_defaults(portal_as, member, share_url):
    html = portal_as(member).post(share_url, {"expires_in": "86400"}).content.decode()
    assert ShareLink.objects.get().reveals == []
    assert (
        '<td class="share-reveals" data-reveals="">'
        '<span class="muted">only the defaults</span></td>' in html
    )


def test_a_refused_link_keeps_the_boxes_ticked(portal_as, member, share_url):
    html = (
        portal_as(member)
        .post(share_url, {"expires_in": "5", "include_git_diff": "on"})
        .content.decode()
    )
    assert ShareLink.objects.count() == 0
    assert '<input type="checkbox" id="share-git_diff" name="include_git_diff" checked>' in html
    assert will_show(html)[-1] == "Git state: commit, branch, remote and uncommitted diff"


def test_a_comparisons_panel_has_no_boxes_and_lists_what_its_page_shows(
    portal_as, member, project, make_run
):
    ids = [make_run(name="a"), make_run(name="b")]
    comparison = comparison_create(
        principal=Principal(user=member), project=project, name="ab", run_ids=ids
    )
    url = f"/projects/vision/comparisons/{comparison.pk}/share"
    html = portal_as(member).get(url).content.decode()
    assert 'type="checkbox"' not in html
    assert will_show(html) == list(SHARE_SHOWN_COMPARISON)
    ticked = portal_as(member).post(url, {"expires_in": "86400", "include_command": "on"})
    assert ShareLink.objects.get().reveals == []
    assert will_show(ticked.content.decode()) == list(SHARE_SHOWN_COMPARISON)
    assert Run.objects.count() == 2
