"""Checking what clients send about comments and share links. The API's views and the
portal's run and comparison pages call the same functions, so both enforce one set of
rules; each returns a frozen dataclass of clean values or raises Invalid naming the
field and the limit. What needs the database (a parent comment on the same target)
is the services' to check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps.collab.models import COMMENT_MAX_LENGTH, SHARE_PART_NAMES
from apps.core.errors import Invalid
from apps.core.validation import json_object

SHARE_DEFAULT_SECONDS = 7 * 24 * 3600
SHARE_MAX_SECONDS = 90 * 24 * 3600
SHARE_MIN_SECONDS = 60
# The fields that add a part to what a link shows (include_git_diff…), false by default.
SHARE_FLAGS = tuple(f"include_{name}" for name in SHARE_PART_NAMES)


def _body_clean(body: object) -> str:
    if not isinstance(body, str) or not body.strip():
        raise Invalid("body must be non-empty markdown text", field="body")
    if len(body) > COMMENT_MAX_LENGTH:
        raise Invalid(
            f"body must be at most {COMMENT_MAX_LENGTH:,} characters (got {len(body):,})",
            field="body",
        )
    return body


@dataclass(frozen=True)
class CommentCreateIn:
    body: str
    parent: int | None = None  # the id of the comment it answers


def comment_create_clean(data: Any) -> CommentCreateIn:
    """``body`` (markdown, 1 to 20,000 characters, not only whitespace) and ``parent``
    (a comment's id, or null for a new thread)."""
    fields = json_object(data, {"body", "parent"})
    body = _body_clean(fields.get("body"))
    parent = fields.get("parent")
    if parent is not None and type(parent) is not int:
        raise Invalid("parent must be a comment id (an integer)", field="parent")
    return CommentCreateIn(body=body, parent=parent)


@dataclass(frozen=True)
class CommentEditIn:
    body: str


def comment_edit_clean(data: Any) -> CommentEditIn:
    """The comment's new ``body``, as for a new comment."""
    fields = json_object(data, {"body"})
    return CommentEditIn(body=_body_clean(fields.get("body")))


@dataclass(frozen=True)
class ShareLinkCreateIn:
    expires_in: int = SHARE_DEFAULT_SECONDS
    # Each of SHARE_FLAGS, by name: whether the link shows that part.
    include: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(SHARE_FLAGS, False))


def share_link_create_clean(data: Any) -> ShareLinkCreateIn:
    """``expires_in`` (whole seconds from 60 to 90 days; 7 days when absent or null)
    and each of SHARE_FLAGS (``include_git_diff``…), true or false (false when
    absent)."""
    fields = json_object(data, {"expires_in", *SHARE_FLAGS})
    expires_in = fields.get("expires_in")
    if expires_in is None:
        expires_in = SHARE_DEFAULT_SECONDS
    if type(expires_in) is not int or not SHARE_MIN_SECONDS <= expires_in <= SHARE_MAX_SECONDS:
        raise Invalid(
            f"expires_in must be whole seconds from {SHARE_MIN_SECONDS} to {SHARE_MAX_SECONDS} "
            "(90 days)",
            field="expires_in",
        )
    include: dict[str, bool] = {}
    for flag in SHARE_FLAGS:
        value = fields.get(flag, False)
        if type(value) is not bool:
            raise Invalid(f"{flag} must be true or false", field=flag)
        include[flag] = value
    return ShareLinkCreateIn(expires_in=expires_in, include=include)
