from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps.collab import selectors, services
from apps.collab.models import Comment
from apps.collab.output import (
    REPLIES,
    CommentOut,
    ShareLinkCreatedOut,
    ShareLinkOut,
    comment_out,
    share_link_out,
)
from apps.collab.selectors import REPLIES_SHOWN
from apps.collab.validation import (
    comment_create_clean,
    comment_edit_clean,
    share_link_create_clean,
)
from apps.core.errors import not_found
from apps.core.pagination import Listing, list_page
from apps.core.schema import Page
from apps.core.views import KirokuApi
from apps.projects.models import Role
from apps.runs.selectors import run_get_for_principal

COMMENT_EXAMPLE = {
    "id": 7,
    "run_id": "8c1f0e2d3b4a59687766554433221100",
    "parent": None,
    "author": "alice",
    "body": "Looks good, @bob: can you rerun with lr=1e-4?",
    "html": '<p>Looks good, <a href="/projects/vision?filter=author+%3D+%27bob%27" '
    'class="mention" rel="nofollow noopener">@bob</a>: can you rerun with lr=1e-4?</p>',
    "mentions": ["bob"],
    "created_at": "2026-01-01T12:00:00Z",
    "edited_at": None,
    "deleted": False,
    "replies": [],
    "replies_next": None,
}
SHARE_EXAMPLE = {
    "id": 3,
    "run_id": "8c1f0e2d3b4a59687766554433221100",
    "created_by": "alice",
    "created_at": "2026-01-01T12:00:00Z",
    "expires_at": "2026-01-02T12:00:00Z",
    "revoked_at": None,
    "active": True,
    "include_artifacts": False,
    "reveals": ["command"],
    "view_count": 4,
    "last_viewed_at": "2026-01-01T15:00:00Z",
}

# Top-level comments, each with its first replies (REPLIES_SHOWN; the rest are paged).
THREADS = Listing("comments", ("created_at", "pk"))
SHARE_LINKS = Listing("share-links", ("-created_at", "-pk"))


def _run_public_id(comment: Comment) -> str:
    """The public id of the run ``comment`` is on: comment_get_for_principal finds
    comments on runs only, so a comment without one is not found here."""
    if comment.run is None:
        raise not_found("comment")
    return comment.run.public_id


class RunCommentsApi(KirokuApi):
    """A run's comment threads; anyone who can read the run may comment."""

    @extend_schema(
        operation_id="comments_list",
        parameters=THREADS.parameters(),
        responses={200: Page[CommentOut]},
        examples=[
            OpenApiExample(
                "thread", response_only=True, value={"results": [COMMENT_EXAMPLE], "next": None}
            )
        ],
        description="The run's threads, oldest first: top-level comments (a page of "
        f"them), each with its first {REPLIES_SHOWN} replies. When a thread has more, its "
        "`replies_next` is the cursor for `GET /comments/{id}/replies` that continues it.",
    )
    def get(self, request, run_id: str):
        run = run_get_for_principal(principal=self.principal, run_id=run_id)
        threads, next_cursor = list_page(request, selectors.comment_threads(target=run), THREADS)
        results = [comment_out(c, run_public_id=run.public_id) for c in threads]
        return Response({"results": results, "next": next_cursor})

    @extend_schema(
        operation_id="comments_create",
        request=dict,
        responses={201: CommentOut},
        examples=[
            OpenApiExample(
                "comment", request_only=True, value={"body": "Nice, @bob!", "parent": None}
            ),
            OpenApiExample(
                "created", response_only=True, status_codes=["201"], value=COMMENT_EXAMPLE
            ),
        ],
        description="`body` is markdown (at most 20,000 characters); `parent` answers a "
        "comment. The answer carries the markdown and its sanitised HTML.",
    )
    def post(self, request, run_id: str):
        run = run_get_for_principal(principal=self.principal, run_id=run_id)
        data = comment_create_clean(request.data)
        comment = services.comment_create(
            principal=self.principal, target=run, body=data.body, parent_id=data.parent
        )
        return Response(
            comment_out(comment, run_public_id=run.public_id), status=status.HTTP_201_CREATED
        )


class CommentRepliesApi(KirokuApi):
    @extend_schema(
        operation_id="comments_replies",
        parameters=REPLIES.parameters(),
        responses={200: Page[CommentOut]},
        examples=[
            OpenApiExample(
                "replies",
                response_only=True,
                value={"results": [{**COMMENT_EXAMPLE, "parent": 6}], "next": None},
            )
        ],
        description="A thread's replies, oldest first, a page at a time (pass a "
        "thread's `replies_next` as `cursor` to continue after the replies it carries). "
        "A reply has no replies of its own: its list is empty.",
    )
    def get(self, request, comment_id: str):
        comment = selectors.comment_get_for_principal(
            principal=self.principal, comment_id=comment_id
        )
        replies, next_cursor = list_page(
            request, selectors.comment_replies(comment=comment), REPLIES
        )
        run_public_id = _run_public_id(comment)
        results = [comment_out(r, run_public_id=run_public_id) for r in replies]
        return Response({"results": results, "next": next_cursor})


class CommentApi(KirokuApi):
    @extend_schema(
        operation_id="comments_edit",
        request=dict,
        responses={200: CommentOut},
        examples=[OpenApiExample("edited", response_only=True, value=COMMENT_EXAMPLE)],
    )
    def patch(self, request, comment_id: str):
        comment = selectors.comment_get_for_principal(
            principal=self.principal, comment_id=comment_id
        )
        data = comment_edit_clean(request.data)
        comment = services.comment_edit(principal=self.principal, comment=comment, body=data.body)
        return Response(comment_out(comment, run_public_id=_run_public_id(comment)))

    @extend_schema(operation_id="comments_delete", responses={204: None})
    def delete(self, request, comment_id: str):
        comment = selectors.comment_get_for_principal(
            principal=self.principal, comment_id=comment_id
        )
        services.comment_delete(principal=self.principal, comment=comment)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RunShareLinksApi(KirokuApi):
    @extend_schema(
        operation_id="share_links_list",
        parameters=SHARE_LINKS.parameters(),
        responses={200: Page[ShareLinkOut]},
        examples=[
            OpenApiExample(
                "links", response_only=True, value={"results": [SHARE_EXAMPLE], "next": None}
            )
        ],
        description="The run's share links, newest first, without their tokens (members).",
    )
    def get(self, request, run_id: str):
        run = run_get_for_principal(principal=self.principal, run_id=run_id, needed=Role.MEMBER)
        links, next_cursor = list_page(request, selectors.share_links_for(target=run), SHARE_LINKS)
        results = [share_link_out(x, run_public_id=run.public_id) for x in links]
        return Response({"results": results, "next": next_cursor})

    @extend_schema(
        operation_id="share_links_create",
        request=dict,
        responses={201: ShareLinkCreatedOut},
        examples=[
            OpenApiExample(
                "24 hours, with the command line",
                request_only=True,
                value={"expires_in": 86400, "include_command": True},
            ),
            OpenApiExample(
                "created",
                response_only=True,
                status_codes=["201"],
                value={
                    "id": 3,
                    "url": "https://kiroku.example.com/s/Q2hhbmdlIG1lIHRvIGEgcmVhbCB0b2tlbg",
                    "expires_at": "2026-01-02T12:00:00Z",
                    "reveals": ["command"],
                },
            ),
        ],
        description="A link that shows this run read-only to anyone holding it: its name, "
        "status, params, metrics and charts, summary and notes. Each of `include_git_diff` "
        "(git commit, branch, remote and diff), `include_command`, `include_host`, "
        "`include_directory` (working directory, dataset locations), "
        "`include_environment` (Python, OS, hardware, packages), `include_ci` and "
        "`include_artifacts` (files) is a boolean, false by default, that adds that part; "
        "`reveals` lists the parts added. The `url` holds the token and is shown only in "
        "this answer.",
    )
    def post(self, request, run_id: str):
        run = run_get_for_principal(principal=self.principal, run_id=run_id, needed=Role.MEMBER)
        data = share_link_create_clean(request.data)
        created = services.share_link_create(
            principal=self.principal, target=run, expires_in=data.expires_in, **data.include
        )
        return Response(
            {
                "id": created.link.pk,
                "url": request.build_absolute_uri(f"/s/{created.token}"),
                "expires_at": created.link.expires_at,
                "reveals": created.link.reveals,
            },
            status=status.HTTP_201_CREATED,
        )


class ShareLinkApi(KirokuApi):
    @extend_schema(operation_id="share_links_revoke", responses={204: None})
    def delete(self, request, link_id: str):
        link = selectors.share_link_get_for_principal(principal=self.principal, link_id=link_id)
        services.share_link_revoke(principal=self.principal, link=link)
        return Response(status=status.HTTP_204_NO_CONTENT)
