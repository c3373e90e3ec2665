"""How comments and share links look on the wire: each output function returns a
TypedDict, which the OpenAPI schema documents (apps.core.schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, NotRequired, TypedDict

from apps.collab.models import SHARE_PART_NAMES, Comment, ShareLink
from apps.collab.selectors import REPLIES_SHOWN, comment_first_replies
from apps.core.pagination import Listing, cursor_after

# A thread's replies, oldest first: GET /comments/{id}/replies.
REPLIES = Listing("replies", ("created_at", "pk"))

_REVEALS = f"the parts shown beyond the defaults, of: {', '.join(SHARE_PART_NAMES)}"


class CommentOut(TypedDict):
    """A comment on a run. A top-level comment also carries its first replies."""

    id: int
    run_id: str
    parent: Annotated[int | None, "the comment this one answers; null for a top-level one"]
    author: str
    body: Annotated[str, "markdown; empty once deleted"]
    html: Annotated[str, "the body as sanitised HTML; empty once deleted"]
    mentions: Annotated[list[str], "the usernames it mentions, sorted"]
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    replies: NotRequired[
        Annotated[list[CommentOut], f"top-level comments only: the first {REPLIES_SHOWN} replies"]
    ]
    replies_next: NotRequired[
        Annotated[
            str | None,
            "top-level comments only: the `cursor` for GET /comments/{id}/replies that "
            "continues after `replies`; null when `replies` holds them all",
        ]
    ]


class ShareLinkOut(TypedDict):
    """A share link, without its token (shown once, when it is created)."""

    id: int
    run_id: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    active: Annotated[bool, "neither revoked nor expired"]
    include_artifacts: bool
    reveals: Annotated[list[str], _REVEALS]
    view_count: int
    last_viewed_at: datetime | None


class ShareLinkCreatedOut(TypedDict):
    """A new share link: ``url`` holds its token and is shown only in this answer."""

    id: int
    url: str
    expires_at: datetime
    reveals: Annotated[list[str], _REVEALS]


def comment_out(comment: Comment, *, run_public_id: str) -> CommentOut:
    deleted = comment.deleted_at is not None
    out: CommentOut = {
        "id": comment.pk,
        "run_id": run_public_id,
        "parent": comment.parent_id,
        "author": comment.author_label,
        "body": "" if deleted else comment.body,
        "html": "" if deleted else comment.body_html,
        "mentions": sorted(user.username for user in comment.mentions.all()),
        "created_at": comment.created_at,
        "edited_at": comment.edited_at,
        "deleted": deleted,
    }
    if comment.parent_id is None:
        replies = comment_first_replies(comment=comment)  # one more than shown
        shown = replies[:REPLIES_SHOWN]
        out["replies"] = [comment_out(reply, run_public_id=run_public_id) for reply in shown]
        out["replies_next"] = (
            cursor_after(shown[-1], REPLIES) if len(replies) > REPLIES_SHOWN else None
        )
    return out


def share_link_out(link: ShareLink, *, run_public_id: str) -> ShareLinkOut:
    return {
        "id": link.pk,
        "run_id": run_public_id,
        "created_by": link.created_by_label,
        "created_at": link.created_at,
        "expires_at": link.expires_at,
        "revoked_at": link.revoked_at,
        "active": link.active,
        "include_artifacts": link.include_artifacts,
        # Of SHARE_PARTS, what the link shows beyond its defaults ("git_diff", "artifacts"…).
        "reveals": link.reveals,
        "view_count": link.view_count,
        "last_viewed_at": link.last_viewed_at,
    }
