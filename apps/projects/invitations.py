"""Invitations: a site admin invites someone by email into projects, with a role in
each; the one-time link in the email lets them create their account (or use the one
they have: its email must be the invited address) and lands them in those projects.

The token is 32 random bytes from ``secrets`` (URL-safe base64, 43 characters). Only
its SHA-256 is stored; the token itself is in the email's link and nowhere else. A
token that is malformed, unknown, expired, revoked or used is the same NotFound.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import smtplib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Invitation, InvitationProject, User
from apps.accounts.principal import Principal
from apps.accounts.services import email_normalize, new_user_validate, user_insert
from apps.audit import registry as audit_actions
from apps.audit.services import audit_record
from apps.core.errors import Conflict, Forbidden, Invalid, not_found
from apps.projects.members import membership_grant
from apps.projects.models import Project, Role

logger = logging.getLogger(__name__)

INVITATION_LIFETIME = timedelta(days=7)
INVITATION_TOKEN_BYTES = 32
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def invitation_link(token: str) -> str:
    return settings.KIROKU_BASE_URL + reverse("portal:invite", kwargs={"token": token})


def _require_staff(principal: Principal) -> None:
    if not principal.is_staff:
        raise Forbidden("only site admins manage invitations")


# --- reads ---------------------------------------------------------------------------


def invitation_get_pending(*, token: str) -> Invitation:
    """The invitation this token opens, with its grants and their projects. NotFound,
    always the same, when the token is malformed or unknown, or the invitation has
    expired, been revoked or been used."""
    if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
        raise not_found("invitation")
    digest = _token_hash(token)
    invitation = Invitation.objects.filter(token_hash=digest).first()
    # Found by its hash; compared again in constant time so the answer never depends
    # on how many leading characters matched.
    if invitation is None or not hmac.compare_digest(invitation.token_hash, digest):
        raise not_found("invitation")
    if not invitation.is_pending():
        raise not_found("invitation")
    return invitation


def invitation_grants(*, invitation: Invitation) -> list[InvitationProject]:
    """The invitation's projects (live ones only), by name, each with ``role_label``."""
    grants = list(
        invitation.grants.select_related("project")
        .filter(project__deleted_at__isnull=True)
        .order_by("project__name", "project__slug")
    )
    for grant in grants:
        grant.role_label = Role(grant.role).label
    return grants


def invitation_list_pending(*, principal: Principal) -> QuerySet[Invitation]:
    """Invitations not yet accepted, revoked or expired, newest first (staff only)."""
    _require_staff(principal)
    return (
        Invitation.objects.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
        .prefetch_related("grants__project")
        .order_by("-created_at", "-pk")
    )


def invitation_email_matches(*, invitation: Invitation, email: str) -> bool:
    """Whether ``email`` is the invited address: trimmed, NFKC-normalised and
    case-folded, the way Django's password reset matches an account's email."""
    return bool(email) and _email_key(email) == _email_key(invitation.email)


def _email_key(email: str) -> str:
    return unicodedata.normalize("NFKC", email.strip()).casefold()


def email_mask(email: str) -> str:
    """``a…@example.com``: the local part's first character, then the domain, to name
    an address to someone who should not read it whole."""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}…@{domain}"


def account_exists_for_email(email: str) -> bool:
    """Whether an active account has this email (any letter case). Only for the
    holder of a valid invitation to that address, who is told to sign in."""
    return User.objects.filter(email__iexact=email, is_active=True).exists()


# --- writes --------------------------------------------------------------------------


@dataclass
class CreatedInvitation:
    invitation: Invitation
    link: str  # holds the token: it goes into the email and is never stored
    # Set after commit when the email could not be handed to the mail server.
    email_error: str | None = field(default=None)


def invitation_create(
    *, principal: Principal, email: str, grants: Sequence[tuple[Project, Role]]
) -> CreatedInvitation:
    """Invite ``email`` into the given projects with those roles (site admins only;
    Forbidden otherwise). The email with the link goes out after commit; if the mail
    server refuses it, ``email_error`` says why and the invitation stays (revoke it
    and invite again).

    Invalid: a bad email, no project, a project twice or a deleted project.
    Conflict: a pending invitation for this email exists.
    """
    _require_staff(principal)
    email = email_normalize(email)
    if not grants:
        raise Invalid("choose at least one project and a role", field="projects")
    seen: set[int] = set()
    for project, role in grants:
        if project.pk in seen:
            raise Invalid(f"project '{project.slug}' is chosen twice", field="projects")
        if project.deleted_at is not None:
            raise Invalid(f"project '{project.slug}' is deleted", field="projects")
        if role not in Role.values:
            raise Invalid("choose a role: viewer, member or admin", field="projects")
        seen.add(project.pk)
    token = secrets.token_urlsafe(INVITATION_TOKEN_BYTES)
    now = timezone.now()
    with transaction.atomic():
        if invitation_list_pending(principal=principal).filter(email__iexact=email).exists():
            raise Conflict(
                f"{email} already has a pending invitation; revoke it to send a new one",
                field="email",
            )
        invitation = Invitation.objects.create(
            email=email,
            token_hash=_token_hash(token),
            invited_by=principal.person,
            invited_by_label=principal.label,
            created_at=now,
            expires_at=now + INVITATION_LIFETIME,
        )
        InvitationProject.objects.bulk_create(
            InvitationProject(invitation=invitation, project=project, role=int(role))
            for project, role in grants
        )
        audit_record(
            principal=principal,
            action=audit_actions.INVITE_CREATE,
            target_type="invitation",
            target_id=invitation.pk,
            target_label=email,
            metadata={
                "projects": [
                    {"project": project.slug, "role": Role(role).label} for project, role in grants
                ],
                "expires_at": invitation.expires_at.isoformat(),
            },
        )
        created = CreatedInvitation(invitation=invitation, link=invitation_link(token))
        transaction.on_commit(lambda: _invitation_email_send(created))
    return created


def _invitation_email_send(created: CreatedInvitation) -> None:
    invitation = created.invitation
    context = {
        "invited_by": invitation.invited_by_label,
        "grants": invitation_grants(invitation=invitation),
        "link": created.link,
        "expires_at": invitation.expires_at,
        "base_url": settings.KIROKU_BASE_URL,
    }
    subject = render_to_string("portal/account/email/invitation_subject.txt", context)
    body = render_to_string("portal/account/email/invitation_body.txt", context)
    try:
        send_mail(" ".join(subject.split()), body, None, [invitation.email])
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("invitation %s: the email was not sent: %r", invitation.pk, exc)
        created.email_error = str(exc) or type(exc).__name__


def invitation_revoke(*, principal: Principal, invitation: Invitation) -> Invitation:
    """Revoke an invitation (site admins only). Revoking twice is a no-op; a used
    invitation is a Conflict (the account exists; change its memberships instead)."""
    _require_staff(principal)
    with transaction.atomic():
        now = timezone.now()
        revoked = Invitation.objects.filter(
            pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now)
        invitation.refresh_from_db()
        if not revoked:
            if invitation.revoked_at is not None:
                return invitation
            raise Conflict("this invitation has been accepted; it cannot be revoked")
        audit_record(
            principal=principal,
            action=audit_actions.INVITE_REVOKE,
            target_type="invitation",
            target_id=invitation.pk,
            target_label=invitation.email,
        )
    return invitation


class InvitationForAnother(Forbidden):
    """The signed-in account's email is not the one invited. ``invited`` names the
    invited address masked (``d…@example.com``)."""

    code = "invitation_for_another_email"

    def __init__(self, invitation: Invitation):
        self.invited = email_mask(invitation.email)
        super().__init__(
            f"this invitation is for {self.invited}, not for the account you are signed in "
            "with; sign out, then sign in with that address (or create its account) to accept",
            field="email",
        )


@dataclass(frozen=True)
class AcceptedInvitation:
    user: User
    created_user: bool
    joined: list[tuple[Project, Role]]
    # Projects the user was already in: their role there is left as it was.
    kept: list[tuple[Project, Role]]


def invitation_accept(*, principal: Principal, token: str) -> AcceptedInvitation:
    """The signed-in user accepts: they join the invitation's projects. NotFound when
    the token opens no pending invitation (or has just been used); InvitationForAnother
    (nothing changes, the invitation stays pending) when the user's email is not the
    invited address, so a link that reaches someone else cannot give them its roles."""
    person = principal.person
    if person is None:
        raise Forbidden("sign in to accept an invitation")
    invitation = invitation_get_pending(token=token)
    if not invitation_email_matches(invitation=invitation, email=person.email):
        raise InvitationForAnother(invitation)
    with transaction.atomic():
        _claim(invitation)
        return _join(principal=principal, user=person, invitation=invitation, created_user=False)


def invitation_accept_with_signup(
    *, token: str, username: str, password: str, ip: str | None = None, user_agent: str = ""
) -> AcceptedInvitation:
    """Create the invitee's account (username and password validated; the email is the
    invitation's) and accept, in one transaction: if the invitation was used meanwhile
    (a double submit), NotFound and no account. Conflict when an account already has
    this email (sign in and accept instead) or the username is taken."""
    invitation = invitation_get_pending(token=token)
    if account_exists_for_email(invitation.email):
        raise Conflict("an account with this email exists; sign in to accept", field="email")
    new = new_user_validate(username=username, email=invitation.email, password=password)
    with transaction.atomic():
        _claim(invitation)
        user = user_insert(new)
        principal = Principal(user=user, ip=ip, user_agent=user_agent)
        return _join(principal=principal, user=user, invitation=invitation, created_user=True)


def _claim(invitation: Invitation) -> None:
    """Mark the invitation used, or raise NotFound if it no longer is pending.

    One conditional UPDATE, first thing in the transaction: of two concurrent accepts
    the second waits for the first's row lock (PostgreSQL; SQLite runs the writers one
    after the other), then finds the row used, and its whole transaction is undone.
    """
    now = timezone.now()
    claimed = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    ).update(accepted_at=now)
    if claimed != 1:
        raise not_found("invitation")


def _join(
    *, principal: Principal, user: User, invitation: Invitation, created_user: bool
) -> AcceptedInvitation:
    """``user`` (the person ``principal`` acts as) joins the invitation's projects."""
    Invitation.objects.filter(pk=invitation.pk).update(accepted_by=user)
    joined: list[tuple[Project, Role]] = []
    kept: list[tuple[Project, Role]] = []
    for grant in invitation_grants(invitation=invitation):
        project, role = grant.project, Role(grant.role)
        membership, added = membership_grant(
            principal=principal,
            project=project,
            user=user,
            role=role,
            context={"invitation": invitation.pk, "invited_by": invitation.invited_by_label},
        )
        if added:
            joined.append((project, role))
        else:
            kept.append((project, Role(membership.role)))
    audit_record(
        principal=principal,
        action=audit_actions.INVITE_ACCEPT,
        target_type="invitation",
        target_id=invitation.pk,
        target_label=invitation.email,
        metadata={
            "created_user": created_user,
            "invited_by": invitation.invited_by_label,
            "joined": [{"project": p.slug, "role": r.label} for p, r in joined],
            "kept": [{"project": p.slug, "role": r.label} for p, r in kept],
        },
    )
    return AcceptedInvitation(user=user, created_user=created_user, joined=joined, kept=kept)
