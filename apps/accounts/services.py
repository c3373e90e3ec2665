"""Writes for users: sign-up, name, email, password. Tokens are issued by
``apps.projects.tokens`` (a token may carry a project role)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from apps.accounts.models import User
from apps.accounts.principal import Principal
from apps.core.errors import Conflict, Forbidden, Invalid, not_found

USERNAME_MAX = 150
NAME_MAX = 150
EMAIL_MAX = 254
# Letters, digits, '.', '_' and '-', starting and ending with a letter or digit: no
# '@' or '+', so a username reads the same in a URL and in an @mention.
USERNAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,148}[A-Za-z0-9])?$")


# --- users -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewUser:
    """A validated would-be user: what user_insert writes."""

    username: str
    email: str
    password: str


def email_normalize(email: str) -> str:
    """The email, trimmed and validated, with its domain in lower case. Raises Invalid."""
    email = (email or "").strip()
    if not email or len(email) > EMAIL_MAX:
        raise Invalid(f"enter an email address of at most {EMAIL_MAX} characters", field="email")
    try:
        validate_email(email)
    except ValidationError:
        raise Invalid(f"'{email}' is not an email address", field="email") from None
    return User.objects.normalize_email(email)


def new_user_validate(*, username: str, email: str, password: str) -> NewUser:
    """Check a would-be user's username (format, not taken, in any letter case), email
    and password (Django's password validators). Raises Invalid or Conflict naming the
    field."""
    username = (username or "").strip()
    if not USERNAME_RE.fullmatch(username):
        raise Invalid(
            f"a username is 1 to {USERNAME_MAX} letters, digits, '.', '_' and '-', "
            "starting and ending with a letter or digit",
            field="username",
        )
    email = email_normalize(email)
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(f"the username '{username}' is taken; choose another", field="username")
    try:
        validate_password(password or "", user=User(username=username, email=email))
    except ValidationError as exc:
        raise Invalid(" ".join(exc.messages), field="password") from None
    return NewUser(username=username, email=email, password=password)


def user_insert(new: NewUser) -> User:
    """Write a validated user. The caller owns the transaction (this one is a savepoint,
    so a username taken meanwhile is a Conflict and the caller's transaction lives on)."""
    try:
        with transaction.atomic():
            return User.objects.create_user(
                username=new.username, email=new.email, password=new.password
            )
    except IntegrityError:
        raise Conflict(
            f"the username '{new.username}' is taken; choose another", field="username"
        ) from None


def user_signup(*, username: str, email: str, password: str) -> User:
    """Open sign-up: a new user in no project. Only while KIROKU_OPEN_SIGNUP is on
    (otherwise Forbidden)."""
    if not settings.KIROKU_OPEN_SIGNUP:
        raise Forbidden("sign-up is closed; ask a site admin for an invitation")
    new = new_user_validate(username=username, email=email, password=password)
    with transaction.atomic():
        return user_insert(new)


def _require_self(principal: Principal, user: User) -> None:
    if principal.person is None:
        raise Forbidden("only the user, signed in, changes their account")
    if not principal.owns(user_id=user.pk):
        raise not_found("user")


def user_name_update(*, principal: Principal, user: User, first_name: str, last_name: str) -> User:
    """Change the user's first and last name (each at most 150 characters, may be empty)."""
    _require_self(principal, user)
    first_name, last_name = (first_name or "").strip(), (last_name or "").strip()
    for field, value in (("first_name", first_name), ("last_name", last_name)):
        if len(value) > NAME_MAX:
            raise Invalid(f"a name is at most {NAME_MAX} characters", field=field)
    user.first_name, user.last_name = first_name, last_name
    user.save(update_fields=["first_name", "last_name"])
    return user


def user_email_change(*, principal: Principal, user: User, email: str, password: str) -> User:
    """Change the user's email, which is where password resets go: it needs the
    current password (Invalid on ``password`` otherwise)."""
    _require_self(principal, user)
    if not user.check_password(password or ""):
        raise Invalid("the current password is not right", field="password")
    user.email = email_normalize(email)
    user.save(update_fields=["email"])
    return user


def user_password_set(*, principal: Principal, user: User, password: str) -> User:
    """Set the user's password. The caller has checked the current one and run the
    validators (Django's PasswordChangeForm does both)."""
    _require_self(principal, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    return user
