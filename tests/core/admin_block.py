"""The framed block that shows a new admin's password (``ensure_admin``, and ``serve
--ensure-admin`` under ``make run``), as the tests expect to read it."""

from __future__ import annotations


def admin_block_text(login_url: str, password: str) -> list[str]:
    """The block's lines inside the frame, without the border and padding."""
    return [
        "Created the admin account. Sign in at",
        f"  {login_url}",
        "with",
        "  username:  admin",
        f"  password:  {password}",
        "",
        "This password is shown only this once and is not stored in clear.",
        "Lost it? `make admin-password` prints a new one",
        "(or: manage.py ensure_admin --reset).",
    ]
