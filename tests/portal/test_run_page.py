"""The run page (/projects/<slug>/runs/<run_id>): who may open it, what the overview
says, and escaping of user text. Charts, notes and the status poll are in
test_run_page_parts.py."""

from __future__ import annotations

import pytest

from apps.projects.models import Membership, Role
from apps.runs.models import Run
from tests.portal.run_page_helpers import ESCAPED, XSS, page

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
