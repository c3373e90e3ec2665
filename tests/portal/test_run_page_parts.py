"""The run page's parts: the chart skeleton (and its query count), notes, and the
status poll."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.projects.models import Membership, Role
from apps.runs.models import MetricSummary, Run
from tests.conftest import points
from tests.portal.run_page_helpers import ESCAPED, XSS, chart_groups, page

# Charts ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_chart_skeleton_lists_every_key_grouped_by_prefix(portal_as, viewer, as_member, run_id):
    keys = [
        "train/loss",
        "eval/acc",
        "system/cpu_percent",
        "system/gpu.0.memory_used_bytes",
        "acc",
        "train/lr",
        "zeta/x/y",
        "lr schedule",
    ]
    body = {"batch_id": "k", "metrics": [p for key in keys for p in points(key, range(3))]}
    assert as_member.post(f"/api/v1/runs/{run_id}/log", body).status_code == 200
    html = portal_as(viewer).get(page(run_id)).content.decode()
    assert chart_groups(html) == [
        ("eval", ["eval/acc"]),
        ("train", ["train/loss", "train/lr"]),
        ("zeta", ["zeta/x/y"]),
        ("system", ["system/cpu_percent", "system/gpu.0.memory_used_bytes"]),
        ("other", ["acc", "lr schedule"]),
    ]
    assert '<h2 id="charts-title">Charts <span class="muted count">8</span></h2>' in html
    assert '<input type="search" id="key-search"' in html
    assert '<input type="checkbox" id="full-resolution">' in html
    assert (
        '<div class="chart" data-key="train/loss"><h4>train/loss</h4>'
        '<p class="muted chart-facts">last 2 · 3 points</p><div class="plot"></div></div>' in html
    )
    assert f'data-history-url="/api/v1/runs/{run_id}/metrics/history"' in html
    assert f'data-metrics-url="/api/v1/runs/{run_id}/metrics"' in html


@pytest.mark.django_db
def test_a_nan_last_value_is_spelled_out(portal_as, viewer, as_member, run_id):
    body = {"batch_id": "n", "metrics": [{"key": "loss", "value": "NaN", "step": 0}]}
    assert as_member.post(f"/api/v1/runs/{run_id}/log", body).status_code == 200
    html = portal_as(viewer).get(page(run_id)).content.decode()
    assert '<p class="muted chart-facts">last NaN · 1 point</p>' in html


def _metric_summaries(run: Run, count: int) -> None:
    from django.utils import timezone

    now = timezone.now()
    MetricSummary.objects.bulk_create(
        MetricSummary(
            run=run,
            key=f"group{i % 20}/metric{i:04d}",
            last=float(i),
            last_step=10,
            min=0.0,
            max=float(i),
            count=11,
            last_timestamp=now,
        )
        for i in range(count)
    )


@pytest.mark.django_db
def test_a_thousand_keys_cost_no_more_queries_than_three(
    portal_as, viewer, make_run, django_assert_max_num_queries
):
    small, large = make_run(name="small"), make_run(name="large")
    _metric_summaries(Run.objects.get(public_id=small), 3)
    _metric_summaries(Run.objects.get(public_id=large), 1000)
    client = portal_as(viewer)
    client.get(page(small))  # the session is loaded and cached alike for both
    with CaptureQueriesContext(connection) as few:
        assert client.get(page(small)).status_code == 200
    with django_assert_max_num_queries(11):
        response = client.get(page(large))
    with CaptureQueriesContext(connection) as many:
        client.get(page(large))
    assert len(many.captured_queries) == len(few.captured_queries)
    groups = chart_groups(response.content.decode())
    assert sum(len(keys) for _, keys in groups) == 1000
    assert len(groups) == 20


# Notes -------------------------------------------------------------------------------

NOTES_PAYLOADS = [
    XSS,
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![pixel](data:image/png;base64,iVBORw0KGgo=)",
    '<a href="https://ok.example" style="position:fixed">styled</a>',
    "<style>body{display:none}</style>",
]


@pytest.mark.django_db
def test_notes_are_rendered_as_sanitised_markdown(portal_as, viewer, make_run):
    notes = "## Findings\n\n- **lr** 3e-4 [paper](https://arxiv.org/abs/1)\n\n" + "\n\n".join(
        NOTES_PAYLOADS
    )
    html = portal_as(viewer).get(page(make_run(notes=notes))).content.decode()
    notes_html = html.split('<div class="markdown" id="notes-body">', 1)[1].split("</div>", 1)[0]
    assert "<h2>Findings</h2>" in notes_html
    assert (
        '<li><strong>lr</strong> 3e-4 <a href="https://arxiv.org/abs/1" rel="nofollow noopener">'
        "paper</a></li>" in notes_html
    )
    assert f"<p>{ESCAPED}</p>" in notes_html
    assert '<p>&lt;img src=x onerror="alert(1)"&gt;</p>' in notes_html
    assert "<p>[click](javascript:alert(1))</p>" in notes_html
    assert '<p><img alt="pixel"></p>' in notes_html
    assert "<p>&lt;style&gt;body{display:none}&lt;/style&gt;</p>" in notes_html
    tags = Tags()
    tags.feed(notes_html)
    assert tags.found == [
        ("h2", {}),
        ("ul", {}),
        ("li", {}),
        ("strong", {}),
        ("a", {"href": "https://arxiv.org/abs/1", "rel": "nofollow noopener"}),
        *[("p", {})] * 5,
        ("img", {"alt": "pixel"}),
        *[("p", {})] * 2,
    ]


class Tags(HTMLParser):
    """Every start tag of an HTML fragment with its attributes, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["member", "admin"])
def test_members_and_admins_edit_the_notes(portal_as, persona, run_id, name):
    client = portal_as(persona[name])
    assert '<details id="notes-edit">' in client.get(page(run_id)).content.decode()
    response = client.post(f"{page(run_id)}/notes", {"notes": "# Result\r\n\r\nIt *works*."})
    assert response.status_code == 302
    assert response["Location"] == f"{page(run_id)}#notes"
    assert Run.objects.get(public_id=run_id).notes == "# Result\n\nIt *works*."
    html = client.get(page(run_id)).content.decode()
    assert (
        '<div class="markdown" id="notes-body"><h1>Result</h1>\n<p>It <em>works</em>.</p>' in html
    )
    assert "Notes saved." in html
    event = AuditEvent.objects.get(action="run.update", target_id=run_id)
    assert event.actor_label == persona[name].username
    assert event.metadata == {"changed": {"notes": "edited"}}


@pytest.mark.django_db
def test_a_viewer_sees_no_form_and_may_not_post(portal_as, viewer, make_run):
    run_id = make_run(notes="before")
    client = portal_as(viewer)
    html = client.get(page(run_id)).content.decode()
    assert 'id="notes-edit"' not in html
    assert "/notes" not in html.split('<section id="notes"', 1)[1].split("</section>", 1)[0]
    assert client.post(f"{page(run_id)}/notes", {"notes": "after"}).status_code == 403
    assert Run.objects.get(public_id=run_id).notes == "before"
    assert not AuditEvent.objects.filter(action="run.update").exists()


@pytest.mark.django_db
def test_an_outsider_post_is_not_found_and_anonymous_signs_in(portal_as, outsider, run_id):
    assert portal_as(outsider).post(f"{page(run_id)}/notes", {"notes": "x"}).status_code == 404
    response = portal_as(None).post(f"{page(run_id)}/notes", {"notes": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith("/login?next=")
    assert Run.objects.get(public_id=run_id).notes == ""


@pytest.mark.django_db
def test_notes_too_long_are_refused_with_a_message(portal_as, member, run_id):
    client = portal_as(member)
    response = client.post(f"{page(run_id)}/notes", {"notes": "x" * 100_001}, follow=True)
    assert Run.objects.get(public_id=run_id).notes == ""
    assert "The notes were not saved: they must be at most 100000 characters." in (
        response.content.decode()
    )


@pytest.mark.django_db
def test_notes_of_a_run_of_another_project_are_not_found(
    portal_as, member, other_project, make_run
):
    Membership.objects.create(project=other_project, user=member, role=Role.MEMBER)
    elsewhere = make_run(slug="other")
    response = portal_as(member).post(f"{page(elsewhere)}/notes", {"notes": "x"})
    assert response.status_code == 404
    assert Run.objects.get(public_id=elsewhere).notes == ""


# Status poll -------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_status_partial_polls_while_running_and_stops_with_286(
    portal_as, viewer, as_member, run_id
):
    client = portal_as(viewer)
    running = client.get(f"{page(run_id)}/status", HTTP_HX_REQUEST="true")
    assert running.status_code == 200
    html = running.content.decode()
    assert html.startswith(
        f'<span id="run-status" class="badge RUNNING" hx-get="{page(run_id)}/status" '
        'hx-trigger="every 5s" hx-swap="outerHTML">running</span>'
    )
    assert '<dd id="run-ended" hx-swap-oob="true"><span class="muted">not yet</span></dd>' in html
    as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": "killed"})
    ended = client.get(f"{page(run_id)}/status", HTTP_HX_REQUEST="true")
    assert ended.status_code == 286
    html = ended.content.decode()
    assert html.startswith('<span id="run-status" class="badge KILLED">killed</span>')
    assert "hx-trigger" not in html
    assert '<dd id="run-ended" hx-swap-oob="true"><time datetime=' in html


@pytest.mark.django_db
def test_the_status_partial_follows_the_page_rules(portal_as, outsider, other_project, run_id):
    assert portal_as(outsider).get(f"{page(run_id)}/status").status_code == 404
    elsewhere = Run.objects.create(project=other_project, name="x")
    response = portal_as(outsider).get(f"{page(elsewhere.public_id)}/status")
    assert response.status_code == 404
