"""Comments on runs: threads one level deep, mentions of members only, edit and
soft delete, sanitised markdown, the comment.mention event."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from apps.audit.models import AuditEvent
from apps.collab.models import Comment
from apps.events.models import DomainEvent

API = "/api/v1"


def post(client, run_id, body, parent=None):
    data = {"body": body} if parent is None else {"body": body, "parent": parent}
    return client.post(f"{API}/runs/{run_id}/comments", data)


def test_a_viewer_comments_and_the_answer_carries_markdown_and_html(as_viewer, run_id):
    response = post(as_viewer, run_id, "**great** run")
    assert response.status_code == 201
    body = response.json()
    assert (body["author"], body["body"], body["html"]) == (
        "carol_viewer",
        "**great** run",
        "<p><strong>great</strong> run</p>\n",
    )
    assert (body["parent"], body["replies"], body["deleted"], body["edited_at"]) == (
        None,
        [],
        False,
        None,
    )


def test_replies_are_one_level_deep(as_member, as_viewer, run_id):
    top = post(as_member, run_id, "top").json()
    reply = post(as_viewer, run_id, "reply", parent=top["id"]).json()
    deeper = post(as_member, run_id, "reply to reply", parent=reply["id"]).json()
    assert (reply["parent"], deeper["parent"]) == (top["id"], top["id"])
    thread = as_viewer.get(f"{API}/runs/{run_id}/comments").json()["results"]
    assert [(c["body"], [r["body"] for r in c["replies"]]) for c in thread] == [
        ("top", ["reply", "reply to reply"])
    ]


def test_a_parent_from_another_run_is_refused(as_member, run_id, make_run):
    other = post(as_member, make_run(name="other"), "elsewhere").json()
    response = post(as_member, run_id, "x", parent=other["id"])
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid",
        "message": "parent must be a live comment on this run",
        "field": "parent",
    }


def test_mentions_link_members_and_ignore_everyone_else(as_member, run_id, outsider):
    body = post(as_member, run_id, "@carol_viewer and @mallory_outsider and @nobody").json()
    assert body["mentions"] == ["carol_viewer"]
    assert body["html"] == (
        '<p><a href="/projects/vision?filter=author+%3D+%27carol_viewer%27" class="mention" '
        'rel="nofollow noopener">@carol_viewer</a> and @mallory_outsider and @nobody</p>\n'
    )


def test_a_mention_event_names_the_mentioned_users(
    as_member, run_id, django_capture_on_commit_callbacks
):
    comment = post(as_member, run_id, "ping @alice_admin @carol_viewer").json()
    event = DomainEvent.objects.get(type="comment.mention")
    assert event.payload == {
        "comment_id": comment["id"],
        "run_id": run_id,
        "author": "bob_member",
        "mentioned": ["alice_admin", "carol_viewer"],
        "excerpt": "ping @alice_admin @carol_viewer",
    }


def test_a_comment_over_20000_characters_is_refused(as_member, run_id):
    response = post(as_member, run_id, "x" * 20_001)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid",
        "message": "body must be at most 20,000 characters (got 20,001)",
        "field": "body",
    }
    assert Comment.objects.count() == 0


def test_a_comment_of_exactly_20000_characters_is_kept(as_member, run_id):
    response = post(as_member, run_id, "x" * 20_000)
    assert response.status_code == 201
    assert Comment.objects.get(pk=response.json()["id"]).body == "x" * 20_000


@pytest.mark.parametrize("body", ["", "   ", None, 5, ["x"]])
def test_an_empty_or_non_text_body_is_refused(as_member, run_id, body):
    response = as_member.post(f"{API}/runs/{run_id}/comments", {"body": body})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "body"


def test_the_author_edits_and_the_comment_is_marked_edited(as_member, run_id):
    comment = post(as_member, run_id, "frist").json()
    response = as_member.patch(f"{API}/comments/{comment['id']}", {"body": "first"})
    assert response.status_code == 200
    assert response.json()["body"] == "first"
    assert response.json()["edited_at"] is not None
    row = Comment.objects.get(pk=comment["id"])
    assert (row.body, row.body_html) == ("first", "<p>first</p>\n")
    assert row.edited_at is not None


def test_a_deleted_comment_keeps_its_place_without_its_text(as_member, as_viewer, run_id):
    top = post(as_member, run_id, "secret plan").json()
    post(as_viewer, run_id, "reply", parent=top["id"])
    assert as_member.delete(f"{API}/comments/{top['id']}").status_code == 204
    [thread] = as_viewer.get(f"{API}/runs/{run_id}/comments").json()["results"]
    assert (thread["deleted"], thread["body"], thread["html"]) == (True, "", "")
    assert [r["body"] for r in thread["replies"]] == ["reply"]
    assert Comment.objects.get(pk=top["id"]).body == ""


def test_an_admin_deletes_anyones_comment(as_member, as_admin, run_id):
    comment = post(as_member, run_id, "oops").json()
    assert as_admin.delete(f"{API}/comments/{comment['id']}").status_code == 204
    row = Comment.objects.get(pk=comment["id"])
    assert (row.deleted_at is not None, row.body, row.body_html) == (True, "", "")


def test_commenting_on_a_run_you_cannot_read_is_404(as_outsider, run_id):
    response = post(as_outsider, run_id, "hello")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "run not found"


def test_each_action_is_audited_with_its_actor(as_member, as_admin, run_id):
    comment = post(as_member, run_id, "a").json()
    as_member.patch(f"{API}/comments/{comment['id']}", {"body": "b"})
    as_admin.delete(f"{API}/comments/{comment['id']}")
    events = AuditEvent.objects.filter(action__startswith="comment.").order_by("pk")
    assert [(e.action, e.actor_user_label, e.target_id, e.metadata["id"]) for e in events] == [
        ("comment.create", "bob_member", run_id, comment["id"]),
        ("comment.edit", "bob_member", run_id, comment["id"]),
        ("comment.delete", "alice_admin", run_id, comment["id"]),
    ]


class _Inspector(HTMLParser):
    """Collects every tag, attribute name and URL in a piece of HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            self.attributes.add(name)
            if name in {"href", "src"}:
                self.urls.append(value or "")


PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](jav&#x09;ascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](vbscript:msgbox(1))",
    "![x](javascript:alert(1))",
    '![x](https://example.com/a.png "title\\" onerror=\\"alert(1)")',
    '```js" onmouseover="alert(1)\ncode\n```',
    '<a href="javascript:alert(1)">x</a>',
    "<details open ontoggle=alert(1)>",
    '[x](https://example.com "a" onclick="alert(1)")',
    "<style>body{display:none}</style>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_a_hostile_comment_renders_inert(as_member, run_id, payload):
    html = post(as_member, run_id, payload).json()["html"]
    inspector = _Inspector()
    inspector.feed(html)
    assert inspector.tags <= {"p", "a", "img", "pre", "code", "em", "strong"}
    assert not any(name.startswith("on") for name in inspector.attributes)
    assert inspector.attributes <= {"href", "src", "alt", "title", "rel", "class"}
    for url in inspector.urls:
        # A URL's scheme as browsers read it; anything else is a relative URL.
        scheme = re.match(r"^\s*([A-Za-z][A-Za-z0-9+.-]*):", url)
        assert scheme is None or scheme.group(1).lower() in {"http", "https", "mailto"}, url


# ---- long threads: replies come a page at a time ------------------------------------------


def thread_with_replies(run_id: str, count: int) -> Comment:
    """A top-level comment with ``count`` replies r00, r01… one second apart."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.runs.models import Run

    run = Run.objects.get(public_id=run_id)
    start = timezone.now() - timedelta(days=1)
    top = Comment.objects.create(
        run=run, author_label="x", body="top", body_html="", created_at=start
    )
    Comment.objects.bulk_create(
        Comment(
            run=run,
            parent=top,
            author_label="x",
            body=f"r{i:02d}",
            body_html="",
            created_at=start + timedelta(seconds=i + 1),
        )
        for i in range(count)
    )
    return top


def test_a_thread_carries_its_first_20_replies_and_a_cursor_for_the_rest(as_viewer, run_id):
    top = thread_with_replies(run_id, 45)
    (thread,) = as_viewer.get(f"{API}/runs/{run_id}/comments").json()["results"]
    assert [r["body"] for r in thread["replies"]] == [f"r{i:02d}" for i in range(20)]
    bodies, cursor = [], thread["replies_next"]
    while cursor:
        page = as_viewer.get(
            f"{API}/comments/{top.pk}/replies", {"cursor": cursor, "page_size": 20}
        ).json()
        bodies += [r["body"] for r in page["results"]]
        cursor = page["next"]
    assert bodies == [f"r{i:02d}" for i in range(20, 45)]


def test_a_thread_of_exactly_20_replies_has_no_cursor(as_viewer, run_id):
    thread_with_replies(run_id, 20)
    (thread,) = as_viewer.get(f"{API}/runs/{run_id}/comments").json()["results"]
    assert (len(thread["replies"]), thread["replies_next"]) == (20, None)


def test_the_replies_endpoint_pages_from_the_first(as_viewer, run_id):
    top = thread_with_replies(run_id, 45)
    page = as_viewer.get(f"{API}/comments/{top.pk}/replies").json()
    assert ([r["body"] for r in page["results"]], page["next"]) == (
        [f"r{i:02d}" for i in range(45)],
        None,
    )
    assert {r["parent"] for r in page["results"]} == {top.pk}


def test_a_reply_has_no_replies(as_viewer, run_id):
    top = thread_with_replies(run_id, 1)
    reply = Comment.objects.get(parent=top)
    assert as_viewer.get(f"{API}/comments/{reply.pk}/replies").json() == {
        "results": [],
        "next": None,
    }


def test_outsiders_and_other_digits_get_404_for_replies(as_outsider, as_viewer, run_id):
    top = thread_with_replies(run_id, 1)
    assert as_outsider.get(f"{API}/comments/{top.pk}/replies").status_code == 404
    assert as_viewer.get(f"{API}/comments/{str(top.pk) + '²'}/replies").status_code == 404
