"""Writes for saved comparisons, comments and share links. Each checks permission,
runs in one transaction with its audit event, and writes domain events to the outbox.

One module per concept: ``comparisons``, ``comments``, ``share_links``; ``common`` holds
what they share (a comment's or link's target, its maker, the audit event on the
target). The names callers use are re-exported here."""

from apps.collab.services.comments import (
    MENTION_EXCERPT_MAX,
    comment_create,
    comment_delete,
    comment_edit,
)
from apps.collab.services.common import Target
from apps.collab.services.comparisons import comparison_create
from apps.collab.services.share_links import (
    SHARE_ACCESS_AUDIT_SECONDS,
    SHARE_TOKEN_BYTES,
    CreatedShareLink,
    project_sharing_set,
    share_link_check,
    share_link_create,
    share_link_open,
    share_link_revoke,
    share_token_hash,
)

__all__ = [
    "MENTION_EXCERPT_MAX",
    "SHARE_ACCESS_AUDIT_SECONDS",
    "SHARE_TOKEN_BYTES",
    "CreatedShareLink",
    "Target",
    "comment_create",
    "comment_delete",
    "comment_edit",
    "comparison_create",
    "project_sharing_set",
    "share_link_check",
    "share_link_create",
    "share_link_open",
    "share_link_revoke",
    "share_token_hash",
]
