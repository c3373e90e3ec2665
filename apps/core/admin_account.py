"""The local admin account of a fresh install, and the way back when its password is
lost (``make admin-password``). Used by ``manage.py ensure_admin`` and by ``manage.py
serve --ensure-admin`` (what ``make run`` starts).

A password made here is random, shown once by the caller and stored only as Django's
hash: nothing keeps it in clear, so a lost one is replaced, never recovered.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import QuerySet

DEFAULT_USERNAME = "admin"
RESET_COMMAND = "`make admin-password` (or `manage.py ensure_admin --reset`)"


class AdminAccountError(Exception):
    """The admin account cannot be made or changed as asked; the message says why and
    what to do instead."""


@dataclass(frozen=True)
class AdminAccount:
    """A superuser. ``password`` is set only when this call created the account or
    gave it a new password (the caller shows it once); ``created`` says which."""

    username: str
    password: str | None = None
    created: bool = False
    active: bool = True


def _password_new() -> str:
    return secrets.token_urlsafe(18)


def _tables_check() -> None:
    User = get_user_model()
    if User._meta.db_table not in connection.introspection.table_names():
        raise AdminAccountError(
            "the database has no tables yet: run `make run` (or `manage.py migrate`) first"
        )


def admin_ensure(*, username: str = DEFAULT_USERNAME) -> AdminAccount:
    """The superuser ``username`` created with a random password when no superuser
    exists; otherwise the existing one (``username`` if it is a superuser, else the
    oldest), without a password. Raises AdminAccountError before migrations."""
    _tables_check()
    User = get_user_model()
    with transaction.atomic():
        superusers = User.objects.filter(is_superuser=True).order_by("pk")
        existing = superusers.filter(username=username).first() or superusers.first()
        if existing is not None:
            return AdminAccount(username=existing.get_username(), active=existing.is_active)
        password = _password_new()
        User.objects.create_superuser(username=username, email="", password=password)
    return AdminAccount(username=username, password=password, created=True)


def admin_password_reset(*, username: str | None = None) -> AdminAccount:
    """Give a superuser a new random password (the old one stops working, and so do
    the sessions signed in with it). ``username`` None means ``admin``, or the only
    superuser when there is no ``admin``; with no superuser at all the account is
    created as by ``admin_ensure``. Raises AdminAccountError when ``username`` is not
    a superuser, or when it is None and several superusers could be meant."""
    _tables_check()
    User = get_user_model()
    with transaction.atomic():
        superusers = User.objects.select_for_update().filter(is_superuser=True).order_by("pk")
        if username is not None:
            user = User.objects.filter(username=username).first()
            if user is None:
                raise AdminAccountError(
                    f"no user {username!r}; the superusers are: {_names(superusers)}"
                )
            if not user.is_superuser:
                raise AdminAccountError(
                    f"{username!r} is not a superuser; `manage.py changepassword {username}` "
                    "sets any user's password"
                )
        else:
            user = superusers.filter(username=DEFAULT_USERNAME).first()
            if user is None:
                found = list(superusers[:2])
                if not found:
                    return admin_ensure()
                if len(found) > 1:
                    raise AdminAccountError(
                        f"there is no {DEFAULT_USERNAME!r} and several superusers "
                        f"({_names(superusers)}); choose one with --username NAME"
                    )
                user = found[0]
        password = _password_new()
        user.set_password(password)
        user.save(update_fields=["password"])
    return AdminAccount(username=user.get_username(), password=password, active=user.is_active)


def _names(users: QuerySet[Any]) -> str:
    names = [u.get_username() for u in users[:10]]
    if not names:
        return "none"
    more = users.count() - len(names)
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def framed(lines: list[str]) -> str:
    """``lines`` in an ASCII frame (any terminal shows it; a password in it is one
    word, so a double-click copies exactly the password)."""
    width = max(len(line) for line in lines)
    bar = "+" + "-" * (width + 4) + "+"
    return "\n".join([bar, *(f"|  {line.ljust(width)}  |" for line in lines), bar])


def admin_notice(account: AdminAccount, *, sign_in_url: str) -> str:
    """What to print about ``account``: a framed block with the password when it was
    just made (with ``sign_in_url``) or replaced, else one line saying the account
    exists and how to get a new password."""
    if account.password is None:
        return (
            f"The admin account '{account.username}' exists (its password was shown when "
            f"it was made). Lost it? {RESET_COMMAND} prints a new one."
        )
    if account.created:
        lines = [
            "Created the admin account. Sign in at",
            f"  {sign_in_url}",
            "with",
            f"  username:  {account.username}",
            f"  password:  {account.password}",
            "",
            "This password is shown only this once and is not stored in clear.",
            "Lost it? `make admin-password` prints a new one",
            "(or: manage.py ensure_admin --reset).",
        ]
    else:
        lines = [
            f"New password for the admin account '{account.username}':",
            f"  password:  {account.password}",
            "",
            "The old password no longer works. This one is shown only this once.",
        ]
        if not account.active:
            lines.append("Note: this account is deactivated; a site admin can reactivate it.")
    return framed(lines)
