"""The run page's comment thread and share panel (htmx partials)."""

from __future__ import annotations

import re

import pytest

from apps.collab.models import Comment, ShareLink


@pytest.fixture
def urls(run_id):
    base = f"/projects/vision/runs/{run_id}"
    return {"page": base, "comments": f"{base}/comments", "share": f"{base}/share"}


def test_a_viewer_comments_without_a_page_reload(portal_as, viewer, urls):
    response = portal_as(viewer).post(urls["comments"], {"body": "**nice** @bob_member"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.startswith('<div id="comments-thread">')
    assert "<strong>nice</strong>" in html
    assert 'class="mention"' in html and ">@bob_member</a>" in html


def test_the_thread_shows_replies_under_their_comment(portal_as, viewer, member, urls):
    portal_as(member).post(urls["comments"], {"body": "top"})
    top = Comment.objects.get()
    portal_as(viewer).post(urls["comments"], {"body": "answer", "parent": str(top.pk)})
    html = portal_as(viewer).get(urls["comments"]).content.decode()
    assert re.findall(r'<article class="comment( reply)?" id="comment-(\d+)"', html) == [
        ("", str(top.pk)),
        (" reply", str(top.pk + 1)),
    ]


def test_a_hostile_comment_is_inert_in_the_thread(portal_as, viewer, urls):
    html = (
        portal_as(viewer)
        .post(urls["comments"], {"body": "<img src=x onerror=alert(1)> [x](javascript:alert(1))"})
        .content.decode()
    )
    assert "onerror" not in html.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    assert 'href="javascript' not in html


def test_a_refused_comment_keeps_its_text_and_says_why(portal_as, viewer, urls):
    html = portal_as(viewer).post(urls["comments"], {"body": "x" * 20_001}).content.decode()
    assert 'role="alert">body must be at most 20,000 characters (got 20,001)</p>' in html
    assert Comment.objects.count() == 0


def test_only_the_author_or_an_admin_deletes(portal_as, member, viewer, admin, urls):
    portal_as(member).post(urls["comments"], {"body": "mine"})
    comment = Comment.objects.get()
    html = (
        portal_as(viewer)
        .post(urls["comments"], {"action": "delete", "comment": str(comment.pk)})
        .content.decode()
    )
    assert "only its author or a project admin can delete a comment" in html
    portal_as(admin).post(urls["comments"], {"action": "delete", "comment": str(comment.pk)})
    comment.refresh_from_db()
    assert comment.deleted_at is not None


def test_the_author_edits_in_place(portal_as, member, urls):
    portal_as(member).post(urls["comments"], {"body": "frist"})
    comment = Comment.objects.get()
    html = (
        portal_as(member)
        .post(urls["comments"], {"action": "edit", "comment": str(comment.pk), "body": "first"})
        .content.decode()
    )
    assert "<p>first</p>" in html and "(edited)" in html
    comment.refresh_from_db()
    assert (comment.body, comment.edited_at is not None) == ("first", True)


def test_an_outsider_gets_404_for_the_thread(portal_as, outsider, urls):
    assert portal_as(outsider).get(urls["comments"]).status_code == 404
    assert portal_as(outsider).post(urls["comments"], {"body": "hi"}).status_code == 404


def test_viewers_see_no_share_panel_and_cannot_share(portal_as, viewer, urls):
    assert 'id="share"' not in portal_as(viewer).get(urls["page"]).content.decode()
    assert portal_as(viewer).post(urls["share"], {"expires_in": "86400"}).status_code == 403
    assert ShareLink.objects.count() == 0


def test_a_member_creates_a_link_shown_once_and_revokes_it(portal_as, member, urls):
    html = (
        portal_as(member)
        .post(urls["share"], {"expires_in": "86400", "include_artifacts": "on"})
        .content.decode()
    )
    url = re.search(r'id="share-url" readonly value="(http://testserver/s/[^"]+)"', html).group(1)
    link = ShareLink.objects.get()
    assert link.include_artifacts is True
    listed = portal_as(member).get(urls["share"]).content.decode()
    assert url not in listed
    assert ">active</td>" in listed
    portal_as(member).post(urls["share"], {"revoke": str(link.pk)})
    link.refresh_from_db()
    assert link.revoked_at is not None


def test_a_link_with_a_bad_lifetime_is_refused_in_the_panel(portal_as, member, urls):
    html = portal_as(member).post(urls["share"], {"expires_in": "9999999999"}).content.decode()
    assert "expires_in must be whole seconds from 60 to 7776000 (90 days)" in html
    assert ShareLink.objects.count() == 0


def test_an_admin_turns_sharing_off_and_every_link_stops(portal_as, admin, member, urls, project):
    from django.test import Client

    html = portal_as(member).post(urls["share"], {"expires_in": "86400"}).content.decode()
    url = re.search(r'id="share-url" readonly value="http://testserver(/s/[^"]+)"', html).group(1)
    assert Client().get(url).status_code == 200
    response = portal_as(admin).post("/projects/vision/settings", {"action": "sharing"})
    assert response["Location"] == "/projects/vision/settings#share-links"
    assert Client().get(url).status_code == 404
    from apps.audit.models import AuditEvent

    event = AuditEvent.objects.get(action="settings.sharing")
    assert (event.actor_label, event.metadata) == ("alice_admin", {"sharing_enabled": False})
    portal_as(admin).post("/projects/vision/settings", {"action": "sharing", "sharing": "on"})
    assert Client().get(url).status_code == 200


def test_a_member_cannot_turn_sharing_off(portal_as, member, project):
    response = portal_as(member).post("/projects/vision/settings", {"action": "sharing"})
    assert response.status_code == 403
    project.refresh_from_db()
    assert project.sharing_enabled is True


# ---- long threads: the newest first, earlier ones on request -----------------------------


def _replies(run_id: str, count: int, *, parent: Comment | None = None, prefix: str = "r"):
    """``count`` comments one second apart (replies to ``parent`` when given)."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.runs.models import Run

    run = Run.objects.get(public_id=run_id)
    start = timezone.now() - timedelta(days=1)
    Comment.objects.bulk_create(
        Comment(
            run=run,
            parent=parent,
            author_label="x",
            body=f"{prefix}{i:02d}",
            body_html=f"<p>{prefix}{i:02d}</p>",
            created_at=start + timedelta(seconds=i + 1),
        )
        for i in range(count)
    )


def _shown(html: str, prefix: str) -> list[str]:
    return re.findall(rf"<p>({prefix}\d\d)</p>", html)


def _earlier(html: str) -> str | None:
    found = re.search(r'<button [^>]*class="link earlier" hx-get="([^"]*)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_a_long_thread_shows_its_newest_20_replies_and_loads_earlier_ones(
    portal_as, viewer, run_id, urls
):
    _replies(run_id, 1, prefix="top")
    top = Comment.objects.get()
    _replies(run_id, 45, parent=top)
    client = portal_as(viewer)
    html = client.get(urls["comments"]).content.decode()
    assert _shown(html, "r") == [f"r{i:02d}" for i in range(25, 45)]
    seen, url = [], _earlier(html)
    while url:
        piece = client.get(url).content.decode()
        seen = _shown(piece, "r") + seen
        url = _earlier(piece)
    assert seen == [f"r{i:02d}" for i in range(25)]


def test_a_new_reply_to_a_long_thread_is_in_view(portal_as, viewer, run_id, urls):
    _replies(run_id, 1, prefix="top")
    top = Comment.objects.get()
    _replies(run_id, 45, parent=top)
    html = (
        portal_as(viewer)
        .post(urls["comments"], {"body": "latest", "parent": str(top.pk)})
        .content.decode()
    )
    assert "<p>latest</p>" in html


def test_the_newest_50_threads_show_and_earlier_ones_load(portal_as, viewer, run_id, urls):
    _replies(run_id, 60, prefix="t")
    client = portal_as(viewer)
    html = client.get(urls["comments"]).content.decode()
    assert _shown(html, "t") == [f"t{i:02d}" for i in range(10, 60)]
    piece = client.get(_earlier(html)).content.decode()
    assert (_shown(piece, "t"), _earlier(piece)) == ([f"t{i:02d}" for i in range(10)], None)


@pytest.mark.parametrize(
    "query",
    [
        {"before": "\u0663"},
        {"before": "²"},
        {"before": "999999"},
        {"before": "REPLY"},  # a reply is not a thread
        {"before": "TOP", "thread": "TOP"},  # a thread is not its own reply
        {"before": "REPLY", "thread": "1\u0662"},
    ],
)
def test_bad_earlier_requests_are_404(portal_as, viewer, run_id, urls, query):
    _replies(run_id, 1, prefix="top")
    top = Comment.objects.get()
    _replies(run_id, 1, parent=top)
    reply = Comment.objects.get(parent=top)
    ids = {"TOP": str(top.pk), "REPLY": str(reply.pk)}
    query = {name: ids.get(value, value) for name, value in query.items()}
    assert portal_as(viewer).get(urls["comments"], query).status_code == 404
