"""Saved comparisons: saving one from the compare page, opening it (deleted runs left
out), its comment thread and share panel, and its share link's read-only page."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.collab.models import Comment, SavedComparison, ShareLink
from apps.runs.models import MetricPoint, Run

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
XSS = "<script>alert(1)</script>"


def make(project, name: str) -> Run:
    return Run.objects.create(project=project, name=name, status="FINISHED")


@pytest.fixture
def runs(project):
    return [make(project, "a"), make(project, "b"), make(project, "c")]


@pytest.fixture
def saved(project, runs, member):
    return SavedComparison.objects.create(
        project=project,
        name="lr sweep",
        run_ids=[run.public_id for run in runs],
        created_by=member,
        created_by_label=member.username,
    )


def page(comparison) -> str:
    return f"/projects/vision/comparisons/{comparison.pk}"


def embedded(response) -> dict:
    found = re.search(
        r'<script id="compare-data" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    return json.loads(found.group(1))


def share(client, comparison, **extra) -> str:
    """Create a link through the panel and return its /s/<token> path."""
    html = client.post(f"{page(comparison)}/share", {"expires_in": "86400", **extra})
    url = re.search(r'id="share-url" readonly value="([^"]+)"', html.content.decode()).group(1)
    return url[url.index("/s/") :]


# ---- saving --------------------------------------------------------------------------


def test_a_member_sees_the_save_form_and_a_viewer_does_not(portal_as, member, viewer, runs):
    query = urlencode([("runs", run.public_id) for run in runs[:2]])
    as_member = portal_as(member).get(f"/projects/vision/compare?{query}").content.decode()
    as_viewer = portal_as(viewer).get(f"/projects/vision/compare?{query}").content.decode()
    assert '<form id="save-comparison" method="post" action="/projects/vision/comparisons"' in (
        as_member
    )
    assert as_member.count('<input type="hidden" name="runs"') == 2
    assert "save-comparison" not in as_viewer


def test_a_member_saves_and_lands_on_the_comparison(portal_as, member, runs, project):
    ids = [runs[1].public_id, runs[0].public_id]
    response = portal_as(member).post(
        "/projects/vision/comparisons", {"name": "  best two  ", "runs": ids}
    )
    comparison = SavedComparison.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/projects/vision/comparisons/{comparison.pk}"
    assert (comparison.name, comparison.run_ids, comparison.project_id) == (
        "best two",
        ids,
        project.pk,
    )
    assert (comparison.created_by_id, comparison.created_by_label) == (member.pk, "bob_member")
    event = AuditEvent.objects.get(action="comparison.create")
    assert (event.actor_label, event.target_type, event.target_id, event.target_label) == (
        "bob_member",
        "comparison",
        str(comparison.pk),
        "best two",
    )
    assert event.metadata == {"id": comparison.pk, "runs": ids}


@pytest.mark.parametrize(
    ("name", "count", "reason"),
    [
        ("", 2, "name must be non-empty text"),
        ("x" * 101, 2, "name must be at most 100 characters (got 101)"),
        ("ok", 1, "a comparison holds 2 to 20 runs (got 1)"),
    ],
)
def test_a_refused_save_goes_back_with_the_reason(portal_as, member, runs, name, count, reason):
    ids = [run.public_id for run in runs[:count]]
    client = portal_as(member)
    response = client.post("/projects/vision/comparisons", {"name": name, "runs": ids})
    assert response.status_code == 302
    assert response["Location"] == "/projects/vision/compare?" + urlencode(
        [("runs", run_id) for run_id in ids]
    )
    assert SavedComparison.objects.count() == 0
    html = client.get(response["Location"]).content.decode()
    assert f"The comparison was not saved: {reason}." in html


def test_runs_of_another_project_cannot_be_saved(portal_as, member, runs, other_project):
    stranger = make(other_project, "theirs")
    response = portal_as(member).post(
        "/projects/vision/comparisons",
        {"name": "mixed", "runs": [runs[0].public_id, stranger.public_id]},
    )
    assert response.status_code == 302
    assert SavedComparison.objects.count() == 0


def test_a_viewer_cannot_save_and_an_outsider_gets_404(portal_as, viewer, outsider, runs):
    body = {"name": "x", "runs": [runs[0].public_id, runs[1].public_id]}
    assert portal_as(viewer).post("/projects/vision/comparisons", body).status_code == 403
    assert portal_as(outsider).post("/projects/vision/comparisons", body).status_code == 404
    assert SavedComparison.objects.count() == 0


# ---- opening -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [("admin", 200), ("member", 200), ("viewer", 200), ("outsider", 404), ("staff", 200)],
)
def test_who_opens_a_saved_comparison(portal_as, persona, saved, who, status):
    assert portal_as(persona[who]).get(page(saved)).status_code == status


def test_anonymous_is_sent_to_sign_in(portal_as, saved):
    response = portal_as(None).get(page(saved))
    assert response["Location"] == f"/login?next={page(saved)}"


def test_a_comparison_of_another_project_or_a_bad_id_is_404(portal_as, admin, saved, other_project):
    from apps.projects.models import Membership, Role

    Membership.objects.create(project=other_project, user=admin, role=Role.ADMIN)
    client = portal_as(admin)
    assert client.get(f"/projects/other/comparisons/{saved.pk}").status_code == 404
    assert client.get("/projects/vision/comparisons/abc").status_code == 404
    assert client.get(f"/projects/vision/comparisons/{saved.pk + 1}").status_code == 404


def test_the_saved_comparison_shows_its_runs_with_the_api_histories(portal_as, viewer, saved, runs):
    response = portal_as(viewer).get(page(saved))
    html = response.content.decode()
    assert "<h1>lr sweep</h1>" in html
    assert re.findall(r'<li data-run="([0-9a-f]+)">', html) == [run.public_id for run in runs]
    assert 'data-history-url="/api/v1/runs/__run__/metrics/history"' in html
    assert [run["id"] for run in embedded(response)["runs"]] == [run.public_id for run in runs]
    assert "save-comparison" not in html
    assert "comparison-missing" not in html
    assert f'hx-get="{page(saved)}/comments"' in html
    assert "/share" not in html  # viewers get no share panel


def test_a_member_gets_the_share_panel(portal_as, member, saved):
    html = portal_as(member).get(page(saved)).content.decode()
    assert f'hx-get="{page(saved)}/share"' in html


def test_a_deleted_run_is_left_out_with_a_note(portal_as, viewer, saved, runs):
    Run.objects.filter(pk=runs[1].pk).update(deleted_at=timezone.now())
    response = portal_as(viewer).get(page(saved))
    html = response.content.decode()
    assert re.findall(r'<li data-run="([0-9a-f]+)">', html) == [
        runs[0].public_id,
        runs[2].public_id,
    ]
    assert "1 of its runs was deleted since and is left out." in html


def test_fewer_than_two_runs_left_says_so(portal_as, viewer, saved, runs):
    Run.objects.filter(pk__in=[runs[0].pk, runs[1].pk]).update(deleted_at=timezone.now())
    response = portal_as(viewer).get(page(saved))
    html = response.content.decode()
    assert response.status_code == 200
    assert (
        "Only 1 of the 3 runs of this comparison is left (the others were deleted); "
        "a comparison needs at least 2."
    ) in html
    assert "compare-data" not in html
    assert f'hx-get="{page(saved)}/comments"' in html


def test_the_comparison_name_is_escaped(portal_as, viewer, saved):
    SavedComparison.objects.filter(pk=saved.pk).update(name=XSS)
    html = portal_as(viewer).get(page(saved)).content.decode()
    assert XSS not in html
    assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>" in html


# ---- comments ------------------------------------------------------------------------


def test_a_viewer_comments_with_a_mention(portal_as, viewer, member, saved):
    response = portal_as(viewer).post(f"{page(saved)}/comments", {"body": "see @bob_member"})
    html = response.content.decode()
    comment = Comment.objects.get()
    assert (comment.comparison_id, comment.run_id) == (saved.pk, None)
    assert [user.pk for user in comment.mentions.all()] == [member.pk]
    assert html.startswith('<div id="comments-thread">')
    assert 'class="mention"' in html and ">@bob_member</a>" in html
    assert html.count(f'hx-post="{page(saved)}/comments"') == 4  # reply, edit, delete, new
    event = AuditEvent.objects.get(action="comment.create")
    assert (event.actor_label, event.target_type, event.target_id, event.target_label) == (
        "carol_viewer",
        "comparison",
        str(saved.pk),
        "lr sweep",
    )


def test_a_reply_joins_the_comparison_thread(portal_as, viewer, member, saved):
    portal_as(member).post(f"{page(saved)}/comments", {"body": "top"})
    top = Comment.objects.get()
    portal_as(viewer).post(f"{page(saved)}/comments", {"body": "answer", "parent": str(top.pk)})
    reply = Comment.objects.exclude(pk=top.pk).get()
    assert (reply.parent_id, reply.comparison_id) == (top.pk, saved.pk)


def test_a_run_comment_cannot_be_a_parent_here(portal_as, viewer, saved, runs):
    run_comment = Comment.objects.create(
        run=runs[0], author_label="x", body="on a run", body_html="<p>on a run</p>"
    )
    html = (
        portal_as(viewer)
        .post(f"{page(saved)}/comments", {"body": "hi", "parent": str(run_comment.pk)})
        .content.decode()
    )
    assert "parent must be a live comment on this comparison" in html
    assert Comment.objects.count() == 1


def test_the_comparison_thread_does_not_show_run_comments(portal_as, viewer, saved, runs):
    Comment.objects.create(run=runs[0], author_label="x", body="secret", body_html="<p>zzz</p>")
    html = portal_as(viewer).get(f"{page(saved)}/comments").content.decode()
    assert "zzz" not in html
    assert "No comments yet." in html


@pytest.mark.parametrize(("deleter", "allowed"), [("member", True), ("admin", True),
                                                  ("viewer", False)])  # fmt: skip
def test_author_or_admin_deletes_a_comparison_comment(
    portal_as, persona, member, saved, deleter, allowed
):
    portal_as(member).post(f"{page(saved)}/comments", {"body": "mine"})
    comment = Comment.objects.get()
    html = (
        portal_as(persona[deleter])
        .post(f"{page(saved)}/comments", {"action": "delete", "comment": str(comment.pk)})
        .content.decode()
    )
    comment.refresh_from_db()
    assert (comment.deleted_at is not None) is allowed
    if allowed:
        event = AuditEvent.objects.get(action="comment.delete")
        assert (event.actor_label, event.target_type) == (persona[deleter].username, "comparison")
    else:
        assert "only its author or a project admin can delete a comment" in html


def test_a_hostile_comment_on_a_comparison_is_inert(portal_as, viewer, saved):
    html = (
        portal_as(viewer)
        .post(f"{page(saved)}/comments", {"body": f"{XSS} [x](javascript:alert(1))"})
        .content.decode()
    )
    assert XSS not in html
    assert 'href="javascript' not in html


def test_an_outsider_gets_404_for_the_comparison_thread(portal_as, outsider, saved):
    client = portal_as(outsider)
    assert client.get(f"{page(saved)}/comments").status_code == 404
    assert client.post(f"{page(saved)}/comments", {"body": "hi"}).status_code == 404
    assert Comment.objects.count() == 0


def test_the_api_does_not_reach_comparison_comments(as_admin, portal_as, member, saved):
    portal_as(member).post(f"{page(saved)}/comments", {"body": "mine"})
    comment = Comment.objects.get()
    assert as_admin.delete(f"/api/v1/comments/{comment.pk}").status_code == 404


# ---- share links ---------------------------------------------------------------------


def test_the_panel_shares_the_comparison_without_files(portal_as, member, saved):
    client = portal_as(member)
    html = client.get(f"{page(saved)}/share").content.decode()
    assert 'name="include_artifacts"' not in html  # no box for files, nor any other part
    assert 'type="checkbox"' not in html
    assert "it never shares the runs' files" in html
    created = client.post(
        f"{page(saved)}/share", {"expires_in": "86400", "include_artifacts": "on"}
    ).content.decode()
    link = ShareLink.objects.get()
    assert (link.comparison_id, link.run_id, link.include_artifacts) == (saved.pk, None, False)
    assert "Anyone with this link can see this comparison until" in created
    event = AuditEvent.objects.get(action="share_link.create")
    assert (event.target_type, event.target_id) == ("comparison", str(saved.pk))


def test_a_viewer_cannot_open_the_share_panel(portal_as, viewer, saved):
    assert portal_as(viewer).get(f"{page(saved)}/share").status_code == 403


def test_the_share_link_shows_exactly_those_runs(portal_as, member, saved, runs, project):
    other = make(project, "not in it")
    path = share(portal_as(member), saved)
    response = portal_as(None).get(path)
    html = response.content.decode()
    assert response.status_code == 200
    assert re.findall(r'<li data-run="([0-9a-f]+)">', html) == [run.public_id for run in runs]
    assert other.public_id not in html
    assert "/projects/" not in html  # no navigation into the project
    assert "<form" not in html
    token = path.removeprefix("/s/")
    assert f'data-history-url="/s/{token}/runs/__run__/metrics/history"' in html
    assert [run["url"] for run in embedded(response)["runs"]] == [None, None, None]
    access = AuditEvent.objects.get(action="share_link.access")
    assert (access.target_type, access.target_id) == ("comparison", str(saved.pk))
    assert ShareLink.objects.get().view_count == 1


def test_the_shared_history_answers_only_the_comparisons_runs(
    portal_as, member, saved, runs, project
):
    MetricPoint.objects.bulk_create(
        MetricPoint(run=run, key="loss", step=step, value=1.0, timestamp=T0)
        for run in (runs[0], make(project, "outside"))
        for step in range(3)
    )
    outside = Run.objects.get(name="outside")
    path = share(portal_as(member), saved)
    visitor = portal_as(None)
    ok = visitor.get(f"{path}/runs/{runs[0].public_id}/metrics/history", {"key": "loss"})
    assert ok.status_code == 200
    assert [p["step"] for p in ok.json()["results"]] == [0, 1, 2]
    refused = visitor.get(f"{path}/runs/{outside.public_id}/metrics/history", {"key": "loss"})
    assert refused.status_code == 404
    Run.objects.filter(pk=runs[0].pk).update(deleted_at=timezone.now())
    gone = visitor.get(f"{path}/runs/{runs[0].public_id}/metrics/history", {"key": "loss"})
    assert gone.status_code == 404


def test_a_comparison_link_reaches_no_run_endpoint(portal_as, member, saved):
    path = share(portal_as(member), saved)
    visitor = portal_as(None)
    for suffix in ("/status", "/metrics", "/metrics/history?key=loss", "/artifacts"):
        assert visitor.get(path + suffix).status_code == 404, suffix


def test_a_run_link_reaches_no_comparison_history(portal_as, member, saved, runs):
    html = portal_as(member).post(
        f"/projects/vision/runs/{runs[0].public_id}/share", {"expires_in": "86400"}
    )
    url = re.search(r'id="share-url" readonly value="([^"]+)"', html.content.decode()).group(1)
    path = url[url.index("/s/") :]
    answer = portal_as(None).get(f"{path}/runs/{runs[0].public_id}/metrics/history?key=loss")
    assert answer.status_code == 404


def test_a_revoked_comparison_link_is_404(portal_as, member, saved, runs):
    client = portal_as(member)
    path = share(client, saved)
    client.post(f"{page(saved)}/share", {"revoke": str(ShareLink.objects.get().pk)})
    assert ShareLink.objects.get().revoked_at is not None
    visitor = portal_as(None)
    assert visitor.get(path).status_code == 404
    history = f"{path}/runs/{runs[0].public_id}/metrics/history?key=loss"
    assert visitor.get(history).status_code == 404
    event = AuditEvent.objects.get(action="share_link.revoke")
    assert (event.target_type, event.target_id) == ("comparison", str(saved.pk))


def test_a_comparison_link_dies_with_sharing_turned_off(portal_as, member, saved, project):
    path = share(portal_as(member), saved)
    project.sharing_enabled = False
    project.save(update_fields=["sharing_enabled"])
    assert portal_as(None).get(path).status_code == 404


def test_a_shared_comparison_with_too_few_runs_says_so(portal_as, member, saved, runs):
    path = share(portal_as(member), saved)
    Run.objects.filter(pk__in=[runs[0].pk, runs[1].pk]).update(deleted_at=timezone.now())
    html = portal_as(None).get(path).content.decode()
    assert "Only 1 of the 3 runs of this comparison is left" in html
    assert "compare-data" not in html


def test_the_shared_comparison_escapes_user_text(portal_as, member, saved, runs):
    path = share(portal_as(member), saved)
    SavedComparison.objects.filter(pk=saved.pk).update(name=XSS)
    Run.objects.filter(pk=runs[0].pk).update(name=XSS)
    response = portal_as(None).get(path)
    html = response.content.decode()
    assert XSS not in html
    assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>" in html
    assert embedded(response)["runs"][0]["name"] == XSS  # json_script escapes "<" as \u003C


def test_a_visitor_cannot_post_to_a_comparison_link(portal_as, member, saved):
    path = share(portal_as(member), saved)
    assert portal_as(None).post(path).status_code == 403
