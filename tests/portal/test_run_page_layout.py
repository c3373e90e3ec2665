"""The run page's layout: a compact header (status, author, times, git, key metrics),
then the charts, then the rest in tabs; the share panel behind the header's button.
The same parts on a shared page, with what the link leaves out left out."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.test import Client

from apps.portal.views.run.facts import key_metrics
from tests.conftest import points
from tests.portal.run_page_helpers import page

GIT = {
    "commit": "3f2a9c1d0b7e4f6a8c5d2e1f0a9b8c7d6e5f4a3b",
    "branch": "feature/aug",
    "dirty": True,
}


def log(as_member, run_id: str, keys: list[str]) -> None:
    body = {"batch_id": "k", "metrics": [p for key in keys for p in points(key, range(3))]}
    assert as_member.post(f"/api/v1/runs/{run_id}/log", body).status_code == 200


def tabs(html: str) -> list[tuple[str, str]]:
    """The tabs as ``(panel id, aria-selected)``, in order."""
    return re.findall(
        r'<a role="tab" id="tab-\w+" href="#(\w+)" aria-controls="\1" aria-selected="(\w+)"', html
    )


def panels(html: str) -> list[tuple[str, bool]]:
    """The tab panels as ``(id, hidden)``, in order."""
    found = re.findall(
        r'<section id="(\w+)" role="tabpanel" aria-labelledby="tab-\1"([^>]*)>', html
    )
    return [(name, "hidden" in rest) for name, rest in found]


# The header ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_header_says_who_when_git_and_the_key_metrics(portal_as, viewer, as_member, make_run):
    run_id = make_run(name="resnet", git=GIT, started_at="2026-01-01T10:00:00Z")
    log(as_member, run_id, ["train/loss", "eval/acc", "system/cpu"])
    html = portal_as(viewer).get(page(run_id)).content.decode()
    start = html.index('<div class="run-head" id="run-head">')
    head = html[start : html.index('<section id="charts"')]
    assert "<dt>Author</dt><dd>bob_member</dd>" in head
    assert (
        '<dt>Started</dt><dd><time datetime="2026-01-01T10:00:00+00:00">'
        "2026-01-01 10:00:00 UTC</time></dd>" in head
    )
    assert '<dd id="run-ended"><span class="muted">not yet</span></dd>' in head
    assert '<dd id="run-duration">' in head
    commit = GIT["commit"]
    assert (
        f'<dd id="run-git"><code>feature/aug</code> @ <code title="{commit}">{commit[:7]}</code> '
        '<span class="dirty">uncommitted changes</span></dd>' in head
    )
    # No primary metrics set: the first keys that are not system metrics.
    assert (
        '<dl class="key-metrics" id="key-metrics" aria-label="Key metrics">'
        '<div data-key="eval/acc"><dt>eval/acc</dt><dd>2</dd></div>'
        '<div data-key="train/loss"><dt>train/loss</dt><dd>2</dd></div></dl>' in head
    )
    assert '<span id="run-status" class="badge RUNNING"' in head


@pytest.mark.django_db
def test_a_run_without_git_or_metrics_has_neither_in_its_header(portal_as, viewer, make_run):
    html = portal_as(viewer).get(page(make_run())).content.decode()
    assert 'id="run-git"' not in html
    assert 'id="key-metrics"' not in html


@pytest.mark.django_db
def test_the_key_metrics_are_the_project_s_primary_metrics_first(
    portal_as, viewer, as_member, project, make_run
):
    project.primary_metrics = ["val/acc", "missing", "loss"]
    project.save(update_fields=["primary_metrics"])
    run_id = make_run()
    log(as_member, run_id, ["a", "loss", "val/acc", "z"])
    html = portal_as(viewer).get(page(run_id)).content.decode()
    assert re.findall(r'<div data-key="([^"]+)"><dt>', html) == ["val/acc", "loss"]


def test_key_metrics_keep_at_most_four_and_skip_system_metrics():
    rows = [(key, 1.5, 3) for key in ("system/gpu", "e", "d", "c", "b", "a")]
    assert [m.key for m in key_metrics(rows, primary=[])] == ["a", "b", "c", "d"]
    assert [m.key for m in key_metrics(rows, primary=["system/gpu", "zz"])] == ["system/gpu"]
    assert key_metrics([("loss", None, 1)], primary=[])[0].last == "NaN"
    assert key_metrics([], primary=["loss"]) == []


# The order and the tabs ----------------------------------------------------------------


@pytest.mark.django_db
def test_the_charts_come_right_after_the_header_and_before_the_tabs(
    portal_as, member, as_member, make_run
):
    run_id = make_run()
    log(as_member, run_id, ["loss"])
    html = portal_as(member).get(page(run_id)).content.decode()
    order = [
        html.index('<div class="run-head" id="run-head">'),
        html.index('<section id="charts"'),
        html.index('<div class="run-tabs" id="run-tabs">'),
        html.index('<dialog id="share"'),
    ]
    assert order == sorted(order)
    assert (
        f'<section id="charts" aria-labelledby="charts-title" '
        f'data-metrics-url="/api/v1/runs/{run_id}/metrics" '
        f'data-history-url="/api/v1/runs/{run_id}/metrics/history" ' in html
    )
    assert 'data-size="m">' in html
    for control in ('id="chart-smoothing"', 'id="chart-x"', 'id="chart-size"'):
        assert control in html


@pytest.mark.django_db
def test_the_tabs_are_an_aria_tablist_with_the_overview_shown(portal_as, member, make_run):
    html = portal_as(member).get(page(make_run())).content.decode()
    assert '<div class="tablist" role="tablist" aria-label="About this run">' in html
    assert tabs(html) == [
        ("overview", "true"),
        ("params", "false"),
        ("summary", "false"),
        ("notes", "false"),
        ("comments", "false"),
        ("artifacts", "false"),
    ]
    assert panels(html) == [
        ("overview", False),
        ("params", True),
        ("summary", True),
        ("notes", True),
        ("comments", True),
        ("artifacts", True),
    ]
    assert '<script src="/static/portal/run_page.js" defer></script>' in html


@pytest.mark.django_db
def test_a_member_has_the_share_button_and_its_panel_a_viewer_neither(
    portal_as, member, viewer, make_run
):
    run_id = make_run()
    html = portal_as(member).get(page(run_id)).content.decode()
    assert (
        '<button type="button" id="share-open" class="secondary" aria-haspopup="dialog" '
        'aria-controls="share" aria-expanded="false">Share</button>' in html
    )
    assert '<dialog id="share" class="side-panel" aria-labelledby="share-title">' in html
    assert f'hx-get="/projects/vision/runs/{run_id}/share" hx-trigger="load"' in html
    html = portal_as(viewer).get(page(run_id)).content.decode()
    assert 'id="share-open"' not in html
    assert "<dialog" not in html
    assert "/share" not in html


# The shared page -------------------------------------------------------------------------


def shared_page(as_member, run_id: str, **include) -> str:
    response = as_member.post(f"/api/v1/runs/{run_id}/share-links", include)
    assert response.status_code == 201, response.json()
    answer = Client().get(urlsplit(response.json()["url"]).path)
    assert answer.status_code == 200
    return answer.content.decode()


@pytest.mark.django_db
def test_a_shared_page_has_the_same_parts_without_comments_or_sharing(as_member, make_run):
    run_id = make_run(name="resnet", git=GIT)
    log(as_member, run_id, ["loss"])
    html = shared_page(as_member, run_id)
    order = [
        html.index('<div class="run-head" id="run-head">'),
        html.index('<section id="charts"'),
        html.index('<div class="run-tabs" id="run-tabs">'),
    ]
    assert order == sorted(order)
    assert [name for name, _ in tabs(html)] == ["overview", "params", "summary", "notes"]
    assert [name for name, _ in panels(html)] == ["overview", "params", "summary", "notes"]
    assert 'id="share-open"' not in html
    assert "<dialog" not in html
    assert 'id="shared-note"' in html
    # Git is not revealed: not in the header either.
    assert 'id="run-git"' not in html
    assert GIT["commit"][:7] not in html
    assert '<div data-key="loss"><dt>loss</dt><dd>2</dd></div>' in html


@pytest.mark.django_db
def test_a_shared_page_shows_git_and_files_only_when_the_link_reveals_them(as_member, make_run):
    run_id = make_run(git=GIT)
    html = shared_page(as_member, run_id, include_git_diff=True, include_artifacts=True)
    assert '<dd id="run-git"><code>feature/aug</code> @ ' in html
    assert [name for name, _ in tabs(html)] == [
        "overview",
        "params",
        "summary",
        "notes",
        "artifacts",
    ]
