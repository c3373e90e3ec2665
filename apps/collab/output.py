"""How comments and share links look on the wire."""

from __future__ import annotations

from typing import Any

from apps.collab.models import Comment, ShareLink
from apps.collab.selectors import REPLIES_SHOWN, comment_first_replies
from apps.core.pagination import Listing, cursor_after

# A thread's replies, oldest first: GET /comments/{id}/replies.
REPLIES = Listing("replies", ("created_at", "pk"))


def comment_out(comment: Comment, *, run_public_id: str) -> dict[str, Any]:
    deleted = comment.deleted_at is not None
    out = {
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


def share_link_out(link: ShareLink, *, run_public_id: str) -> dict[str, Any]:
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
