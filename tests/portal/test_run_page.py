"""The run page (/projects/<slug>/runs/<run_id>): who may open it, what the overview
says, the chart skeleton, notes, the status poll, and escaping of user text."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.projects.models import Membership, Role
from apps.runs.models import MetricSummary, Run
from tests.conftest import points

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def page(run_id: str, slug: str = "vision") -> str:
    return f"/projects/{slug}/runs/{run_id}"


class ChartSkeleton(HTMLParser):
    """The chart groups of a page, in order: ``[(prefix, [key, ...]), ...]``."""

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "details" and "chart-group" in classes:
            self.groups.append((attributes["data-prefix"], []))
        elif tag == "div" and "chart" in classes:
            self.groups[-1][1].append(attributes["data-key"])


def chart_groups(html: str) -> list[tuple[str, list[str]]]:
    parser = ChartSkeleton()
    parser.feed(html)
    return parser.groups


# Access ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "status"),
    [("viewer", 200), ("member", 200), ("admin", 200), ("staff", 200), ("outsider", 404)],
)
def test_who_may_open_the_page(portal_as, persona, run_id, name, status):
    response = portal_as(persona[name]).get(page(run_id))
    assert response.status_code == status
    if status == 404:
        assert "Not found" in response.content.decode()
        assert "resnet50" not in response.content.decode()


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in(portal_as, run_id):
    response = portal_as(None).get(page(run_id))
    assert response.status_code == 302
    assert response["Location"] == f"/login?next=/projects/vision/runs/{run_id}"


@pytest.mark.django_db
def test_a_run_of_another_project_under_this_slug_is_not_found(
    portal_as, member, other_project, make_run
):
    # The member reads both projects: the 404 comes from the run not being vision's.
    Membership.objects.create(project=other_project, user=member, role=Role.MEMBER)
    elsewhere = make_run(slug="other", name="elsewhere")
    client = portal_as(member)
    assert client.get(page(elsewhere, slug="other")).status_code == 200
    assert client.get(page(elsewhere, slug="vision")).status_code == 404


@pytest.mark.django_db
def test_a_deleted_run_is_not_found_even_for_an_admin(portal_as, admin, as_admin, run_id):
    assert as_admin.delete(f"/api/v1/runs/{run_id}").status_code == 204
    assert portal_as(admin).get(page(run_id)).status_code == 404


@pytest.mark.django_db
def test_an_unknown_run_is_not_found(portal_as, viewer, project):
    assert portal_as(viewer).get(page("0" * 32)).status_code == 404
    assert portal_as(viewer).get(page("not-a-run-id")).status_code == 404


@pytest.mark.django_db
def test_a_project_the_user_may_not_read_is_not_found(portal_as, outsider, other_project):
    run = Run.objects.create(project=other_project, name="hidden")
    assert portal_as(outsider).get(page(run.public_id, slug="other")).status_code == 404


# Overview ----------------------------------------------------------------------------

FULL_RUN = {
    "name": "resnet50-sweep",
    "group": "sweep 'a'",
    "params": {"lr": "0.001", "optimizer": "adam"},
    "tags": {"stage": "warmup"},
    "git": {
        "commit": "3f2a9c1d0b7e4f6a8c5d2e1f0a9b8c7d6e5f4a3b",
        "branch": "feature/aug",
        "remote": "https://github.com/acme/vision.git",
        "dirty": True,
        "diff": "--- a/train.py\n+++ b/train.py\n-lr = 1\n+lr = <2>\n",
        "diff_truncated": True,
    },
    "environment": {
        "python": "3.11.7",
        "packages": ["numpy==2.0.1", "torch==2.3.0", "tqdm==4.66.4"],
        "os": "Linux-6.1.0-18-amd64-x86_64-with-glibc2.36",
        "cpu_count": 16,
        "memory": 68719476736,
        "gpus": [
            {"name": "NVIDIA H100 80GB HBM3", "memory_total": 85520809984, "driver": "550.54"}
        ],
        "command": ["python", "train.py", "--lr", "0.001", "--note", "two words"],
        "cwd": "/home/ci/vision",
        "hostname": "gpu-07",
    },
    "ci": {
        "provider": "github",
        "repository": "acme/vision",
        "workflow_url": "https://github.com/acme/vision/actions/runs/42",
        "pr": 17,
        "run_attempt": 2,
    },
    "datasets": [
        {
            "name": "imagenet-train",
            "uri": "s3://acme-data/imagenet/train",
            "digest": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "size": 1536,
            "file_count": 1281167,
            "source": "dvc",
        }
    ],
}


@pytest.fixture
def full_run(make_run) -> str:
    return make_run(**FULL_RUN)


@pytest.mark.django_db
def test_the_overview_shows_git_state_and_the_diff(portal_as, viewer, full_run):
    html = portal_as(viewer).get(page(full_run)).content.decode()
    git = FULL_RUN["git"]
    assert f'<code id="git-commit">{git["commit"]}</code>' in html
    assert '<code id="git-branch">feature/aug</code>' in html
    assert '<code id="git-remote">https://github.com/acme/vision.git</code>' in html
    assert '<dd id="git-dirty"><strong>dirty</strong>: uncommitted changes</dd>' in html
    assert (
        '<pre class="diff-text">--- a/train.py\n+++ b/train.py\n-lr = 1\n+lr = &lt;2&gt;\n</pre>'
        in html
    )
    assert '<p class="muted" id="git-diff-truncated">' in html
    assert '<details id="git-diff">' in html


@pytest.mark.django_db
def test_a_clean_tree_says_clean_and_has_no_diff(portal_as, viewer, make_run):
    run_id = make_run(git={"commit": "abc123", "dirty": False})
    html = portal_as(viewer).get(page(run_id)).content.decode()
    assert '<dd id="git-dirty">clean</dd>' in html
    assert 'id="git-diff"' not in html
    assert 'id="git-diff-truncated"' not in html


@pytest.mark.django_db
def test_the_overview_shows_command_and_environment(portal_as, viewer, full_run):
    html = portal_as(viewer).get(page(full_run)).content.decode()
    assert (
        '<code id="env-command">python train.py --lr 0.001 --note &#x27;two words&#x27;</code>'
        in html
    )
    assert "<dt>Directory</dt><dd><code>/home/ci/vision</code></dd>" in html
    assert "<dt>Python</dt><dd>3.11.7</dd>" in html
    assert "<dt>OS</dt><dd>Linux-6.1.0-18-amd64-x86_64-with-glibc2.36</dd>" in html
    assert "<dt>Host</dt><dd>gpu-07</dd>" in html
    assert "<dt>CPUs</dt><dd>16</dd>" in html
    assert "<dt>Memory</dt><dd>64.0 GiB</dd>" in html
    assert (
        '<ul class="plain" id="gpus"><li>NVIDIA H100 80GB HBM3, 79.6 GiB, driver 550.54</li>'
        in html
    )
    assert '<details id="packages"><summary>3 packages</summary>' in html
    assert (
        "<li><code>numpy==2.0.1</code></li><li><code>torch==2.3.0</code></li>"
        "<li><code>tqdm==4.66.4</code></li>" in html
    )


@pytest.mark.django_db
def test_the_overview_shows_ci_context(portal_as, viewer, full_run):
    html = portal_as(viewer).get(page(full_run)).content.decode()
    assert "<dt>Provider</dt><dd>github</dd>" in html
    assert "<dt>Repository</dt><dd>acme/vision</dd>" in html
    assert (
        '<dt>Workflow run</dt><dd><a href="https://github.com/acme/vision/actions/runs/42" '
        'rel="nofollow noopener">https://github.com/acme/vision/actions/runs/42</a></dd>' in html
    )
    assert "<dt>Attempt</dt><dd>2</dd>" in html
    assert "<dt>Pull request</dt><dd>17</dd>" in html


@pytest.mark.django_db
def test_a_ci_url_that_is_not_http_is_text_not_a_link(portal_as, viewer, make_run):
    run_id = make_run(ci={"provider": "x", "workflow_url": "javascript:alert(1)"})
    html = portal_as(viewer).get(page(run_id)).content.decode()
    assert "<dt>Workflow run</dt><dd>javascript:alert(1)</dd>" in html
    assert 'href="javascript:' not in html


@pytest.mark.django_db
def test_the_overview_shows_datasets_with_hashes(portal_as, viewer, full_run):
    html = portal_as(viewer).get(page(full_run)).content.decode()
    dataset = FULL_RUN["datasets"][0]
    assert (
        f'<tr><th scope="row">imagenet-train</th><td><code class="digest">{dataset["digest"]}'
        '</code></td><td>s3://acme-data/imagenet/train</td><td class="num">1.5 KiB</td>'
        '<td class="num">1281167</td><td>dvc</td></tr>' in html
    )


@pytest.mark.django_db
def test_the_overview_shows_author_group_parent_and_tags(portal_as, viewer, make_run, full_run):
    child = make_run(name="child", parent_id=full_run)
    html = portal_as(viewer).get(page(child)).content.decode()
    parent = Run.objects.get(public_id=full_run)
    assert "<dt>Author</dt><dd>bob_member</dd>" in html
    assert (
        f'<dt>Parent run</dt><dd><a href="/projects/vision/runs/{full_run}">'
        f"{parent.label}</a></dd>" in html
    )
    assert "<dt>Group</dt>" not in html
    html = portal_as(viewer).get(page(full_run)).content.decode()
    assert (
        '<dt>Group</dt><dd><a href="/projects/vision?filter=group+%3D+%27sweep+%27%27a%27%27%27" '
        'title="The runs of this group">sweep &#x27;a&#x27;</a></dd>' in html
    )
    assert '<span class="tag"><span class="tag-key">stage</span>: warmup</span>' in html


@pytest.mark.django_db
def test_an_empty_run_says_what_was_not_recorded(portal_as, viewer, run_id):
    html = portal_as(viewer).get(page(run_id)).content.decode()
    assert "No git state or command was recorded" in html
    assert "No environment was recorded." in html
    assert "Not run in CI (no CI context was recorded)." in html
    assert "No datasets were recorded." in html
    assert "No params were logged." in html
    assert "No summary values yet" in html
    assert '<p class="empty" id="charts-empty">' in html
    assert '<p class="muted" id="notes-body">No notes yet.' in html


@pytest.mark.django_db
def test_status_times_and_duration(portal_as, viewer, as_member, make_run):
    run_id = make_run(started_at="2026-01-01T10:00:00Z")
    html = portal_as(viewer).get(page(run_id)).content.decode()
    assert '<dd id="run-ended"><span class="muted">not yet</span></dd>' in html
    assert '<span id="run-status" class="badge RUNNING"' in html
    finished = as_member.post(
        f"/api/v1/runs/{run_id}/finish",
        {"status": "failed", "ended_at": "2026-01-01T11:02:03Z"},
    )
    assert finished.status_code == 200, finished.json()
    html = portal_as(viewer).get(page(run_id)).content.decode()
    assert '<span id="run-status" class="badge FAILED">failed</span>' in html
    assert (
        '<dt>Started</dt><dd><time datetime="2026-01-01T10:00:00+00:00">'
        "2026-01-01 10:00:00 UTC</time></dd>" in html
    )
    assert (
        '<dd id="run-ended"><time datetime="2026-01-01T11:02:03+00:00">'
        "2026-01-01 11:02:03 UTC</time></dd>" in html
    )
    assert '<dd id="run-duration">1h 02m 03s</dd>' in html


@pytest.mark.django_db
def test_params_and_summary_tables(portal_as, viewer, as_member, full_run):
    as_member.post(
        f"/api/v1/runs/{full_run}/finish",
        {"summary": {"best_acc": 0.93125, "epochs": 90, "ok": True, "curve": [1, 2]}},
    )
    html = portal_as(viewer).get(page(full_run)).content.decode()
    assert '<tr><th scope="row">lr</th><td>0.001</td></tr>' in html
    assert '<tr><th scope="row">optimizer</th><td>adam</td></tr>' in html
    assert '<tr><th scope="row">best_acc</th><td class="num">0.93125</td></tr>' in html
    assert '<tr><th scope="row">curve</th><td class="num">[1, 2]</td></tr>' in html
    assert '<tr><th scope="row">epochs</th><td class="num">90</td></tr>' in html
    assert '<tr><th scope="row">ok</th><td class="num">true</td></tr>' in html


@pytest.mark.django_db
def test_breadcrumbs_lead_back_to_the_runs_table(portal_as, viewer, full_run):
    html = portal_as(viewer).get(page(full_run)).content.decode()
    assert (
        '<nav class="crumbs" aria-label="Breadcrumb"><a href="/projects">Projects</a> / '
        '<a href="/projects/vision">Vision</a> / <span aria-current="page">resnet50-sweep</span>'
        "</nav>" in html
    )


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


# Escaping ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_user_text_is_escaped_everywhere_on_the_page(portal_as, viewer, make_run):
    run_id = make_run(
        name=XSS,
        group=XSS,
        notes=XSS,
        params={"p": XSS},
        tags={"t": XSS},
        git={"commit": "abc", "branch": XSS, "diff": XSS},
        environment={"python": XSS, "packages": [XSS], "command": [XSS], "gpus": [XSS]},
        ci={"provider": XSS, "workflow_url": XSS},
        datasets=[{"name": "d", "uri": XSS, "digest": XSS, "source": XSS}],
    )
    html = portal_as(viewer).get(page(run_id)).content.decode()
    assert "<script>alert(1)" not in html
    assert html.count(ESCAPED) >= 12
    assert f"<title>{ESCAPED} · Vision · Kiroku</title>" in html
    assert f'<span aria-current="page">{ESCAPED}</span>' in html
    assert f'<tr><th scope="row">p</th><td>{ESCAPED}</td></tr>' in html
    assert f'<span class="tag-key">t</span>: {ESCAPED}</span>' in html
    assert f'<div class="markdown" id="notes-body"><p>{ESCAPED}</p>' in html
