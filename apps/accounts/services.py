"""Writes for users (sign-up, name, email, password) and their API tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import ApiToken, TokenKind, User
from apps.accounts.principal import Principal
from apps.accounts.tokens import token_generate, token_hash
from apps.audit import registry as audit_actions
from apps.audit.services import audit_record
from apps.core.errors import Conflict, Forbidden, Invalid, not_found
from apps.projects.access import require_role
from apps.projects.models import Project, Role

TOKEN_NAME_MAX = 100
USERNAME_MAX = 150
NAME_MAX = 150
EMAIL_MAX = 254
# Letters, digits, '.', '_' and '-', starting and ending with a letter or digit: no
# '@' or '+', so a username reads the same in a URL and in an @mention.
USERNAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,148}[A-Za-z0-9])?$")


@dataclass(frozen=True)
class CreatedToken:
    token: ApiToken
    secret: str  # shown once; only its hash is stored


def token_create(
    *,
    principal: Principal,
    owner: User,
    name: str,
    project: Project | None = None,
    role: Role | None = None,
    expires_at: datetime | None = None,
) -> CreatedToken:
    """Create a personal token (no project) or a project service token.

    A personal token may only be created by its owner, signed in as themselves (or
    staff); a service token never creates tokens (Forbidden). A service token needs
    the admin role in its project and a role of viewer or member; ``owner`` is
    recorded as its creator, who does not own it (it is the project's).
    """
    name = (name or "").strip()
    if not name or len(name) > TOKEN_NAME_MAX:
        raise Invalid(f"name must be 1 to {TOKEN_NAME_MAX} characters", field="name")
    if expires_at is not None and expires_at <= timezone.now():
        raise Invalid("expires_at must be in the future", field="expires_at")
    if project is None:
        if role is not None:
            raise Invalid("a role is only given to a project service token", field="role")
        if principal.service_token is not None:
            raise Forbidden("a service token cannot create tokens")
        if (
            not principal.is_system
            and not principal.is_staff
            and not principal.owns(user_id=owner.pk)
        ):
            raise not_found("user")
        kind = TokenKind.PERSONAL
    else:
        require_role(principal, project, Role.ADMIN)
        role = role if role is not None else Role.MEMBER
        if role > Role.MEMBER:
            raise Invalid("a service token's role is at most member", field="role")
        kind = TokenKind.SERVICE
    secret = token_generate()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=owner,
            name=name,
            kind=kind,
            project=project,
            role=int(role) if role is not None else None,
            prefix=secret[:12],
            token_hash=token_hash(secret),
            expires_at=expires_at,
        )
        audit_record(
            principal=principal,
            action=audit_actions.TOKEN_CREATE,
            project=project,
            target_type="token",
            target_id=token.pk,
            target_label=f"{token.name} ({token.prefix}…)",
            metadata={
                "kind": kind,
                "owner": owner.username,
                "role": Role(role).label if role is not None else None,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return CreatedToken(token=token, secret=secret)


def token_revoke(*, principal: Principal, token: ApiToken) -> ApiToken:
    """Revoke a token (idempotent). A personal token: its owner (signed in or through
    a personal token, never through a service token they created) or staff; anyone
    else gets NotFound. A service token is the project's: its project's admins or
    staff (a reader of the project gets Forbidden, anyone else NotFound), not its
    creator as such."""
    if principal.is_system or principal.is_staff:
        pass
    elif token.kind == TokenKind.SERVICE:
        require_role(principal, token.project, Role.ADMIN, what="token")
    elif not principal.owns(user_id=token.user_id):
        raise not_found("token")
    if token.revoked_at is not None:
        return token
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            principal=principal,
            action=audit_actions.TOKEN_REVOKE,
            project=token.project,
            target_type="token",
            target_id=token.pk,
            target_label=f"{token.name} ({token.prefix}…)",
        )
    return token


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
