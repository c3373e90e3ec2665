"""Invitations: who may invite, what is stored and emailed, and revoking. Accepting
is in test_invitation_accept.py."""

from __future__ import annotations

import base64
import hashlib
import re
import smtplib
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone

from apps.accounts.models import Invitation, InvitationProject
from apps.accounts.principal import Principal
from apps.core.errors import Conflict, Forbidden, Invalid
from apps.projects.invitations import (
    invitation_accept_with_signup,
    invitation_create,
    invitation_revoke,
)
from apps.projects.models import Role
from tests.accounts.conftest import PASSWORD, link_re
from tests.accounts.invitation_helpers import PAGE, events

# ---- who may invite ----------------------------------------------------------------


def test_staff_open_the_invitations_page(portal_as, staff, project, speech):
    response = portal_as(staff).get(PAGE)
    assert response.status_code == 200
    assert response.templates[0].name == "portal/account/invitations.html"
    html = response.content.decode()
    assert re.findall(r'<select id="role-([a-z-]+)" name="role-\1">', html) == ["speech", "vision"]
    assert '<p class="muted" id="no-pending">No pending invitations.</p>' in html


@pytest.mark.parametrize("who", ["admin", "member", "viewer", "outsider"])
def test_anyone_but_staff_gets_the_404_page(who, persona, portal_as, project):
    response = portal_as(persona[who]).get(PAGE)
    assert response.status_code == 404
    assert response.templates[0].name == "404.html"


def test_anonymous_is_sent_to_sign_in(portal_as):
    response = portal_as(None).get(PAGE)
    assert (response.status_code, response["Location"]) == (
        302,
        "/login?" + urlencode({"next": PAGE}, safe="/"),
    )


@pytest.mark.parametrize("who", ["admin", "outsider"])
def test_a_non_staff_post_invites_nobody(who, persona, portal_as, project, mailoutbox):
    response = portal_as(persona[who]).post(
        PAGE, {"action": "create", "email": "eve@example.com", "role-vision": "admin"}
    )
    assert response.status_code == 404
    assert Invitation.objects.count() == 0
    assert mailoutbox == []
    assert events("invite.create") == []


def test_the_service_refuses_a_non_staff_principal(admin, project):
    with pytest.raises(Forbidden):
        invitation_create(
            principal=Principal(user=admin), email="e@example.com", grants=[(project, Role.ADMIN)]
        )


def test_only_staff_see_the_invitations_link(portal_as, staff, admin):
    assert '<a href="/invites">Invitations</a>' in portal_as(staff).get("/account").content.decode()
    assert "/invites" not in portal_as(admin).get("/account").content.decode()


def test_the_invitation_form_needs_a_csrf_token(staff, project):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    response = client.post(PAGE, {"action": "create", "email": "e@x.org", "role-vision": "member"})
    assert response.status_code == 403
    assert Invitation.objects.count() == 0


# ---- the invitation and its email --------------------------------------------------


def test_an_invitation_is_stored_with_its_roles_and_only_a_hash(token, staff, project, speech):
    invitation = Invitation.objects.get()
    assert invitation.email == "dana@example.com"
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (invitation.invited_by_id, invitation.invited_by_label) == (staff.pk, "sam_staff")
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    assert (invitation.accepted_at, invitation.revoked_at) == (None, None)
    grants = {
        (g.project.slug, Role(g.role).label)
        for g in InvitationProject.objects.filter(invitation=invitation)
    }
    assert grants == {("vision", "admin"), ("speech", "viewer")}
    stored = [str(v) for v in Invitation.objects.values_list().get()]
    assert not any(token in value for value in stored)


def test_the_token_is_32_random_bytes(token):
    assert len(base64.urlsafe_b64decode(token + "=")) == 32


def test_the_email_goes_to_the_invitee_with_a_working_link(invite, project, speech, mailoutbox):
    response = invite("dana@example.com", {"vision": "admin", "speech": "viewer"})
    assert (response.status_code, response["Location"]) == (302, PAGE)
    [message] = mailoutbox
    assert message.to == ["dana@example.com"]
    assert message.subject == "You are invited to Kiroku"
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert "sam_staff invited you to Kiroku" in message.body
    assert "  - Speech, as viewer\n  - Vision, as admin\n" in message.body
    link = link_re().search(message.body).group(0).strip()
    path = link.removeprefix(settings.KIROKU_BASE_URL)
    page = Client().get(path)
    assert page.status_code == 200
    assert page.templates[0].name == "portal/account/invite.html"


def test_the_link_starts_with_the_configured_base_url(invite, project, mailoutbox):
    with override_settings(KIROKU_BASE_URL="https://kiroku.example.org"):
        invite("dana@example.com", {"vision": "member"})
        assert re.search(
            r"^https://kiroku\.example\.org/invite/[A-Za-z0-9_-]{43}$", mailoutbox[0].body, re.M
        )


def test_staff_are_told_the_invitation_was_sent(invite, token):
    html = invite.client.get(PAGE).content.decode()
    assert '<li class="success">Invitation sent to dana@example.com.</li>' in html
    rows = re.findall(
        r'<tr data-invitation="\d+">\s*<th scope="row">([^<]+)</th>\s*<td>([^<]*)<', html
    )
    assert rows == [("dana@example.com", "Speech (viewer), Vision (admin)")]


def test_creating_an_invitation_is_audited_with_the_staff_actor(token, staff):
    [event] = events("invite.create")
    invitation = Invitation.objects.get()
    assert (event.actor_type, event.actor_id, event.actor_label) == (
        "user",
        str(staff.pk),
        "sam_staff",
    )
    assert (event.project_id, event.target_type, event.target_id, event.target_label) == (
        None,
        "invitation",
        str(invitation.pk),
        "dana@example.com",
    )
    assert event.metadata == {
        "projects": [
            {"project": "speech", "role": "viewer"},
            {"project": "vision", "role": "admin"},
        ],
        "expires_at": invitation.expires_at.isoformat(),
    }


@pytest.mark.parametrize(
    ("email", "roles", "status", "message"),
    [
        ("dana@example.com", {}, 400, "choose at least one project and a role"),
        ("not-an-email", {"vision": "member"}, 400, "&#x27;not-an-email&#x27; is not an email"),
        ("", {"vision": "member"}, 400, "enter an email address of at most 254 characters"),
        ("dana@example.com", {"vision": "owner"}, 400, "choose viewer, member or admin for Vision"),
    ],
)
def test_a_refused_invitation_says_why_and_sends_nothing(
    email, roles, status, message, invite, project, mailoutbox
):
    response = invite(email, roles)
    assert response.status_code == status
    html = response.content.decode()
    assert f'<p class="error" role="alert" id="invite-error">Not invited: {message}' in html
    assert Invitation.objects.count() == 0
    assert mailoutbox == []
    assert events("invite.create") == []


def test_a_second_pending_invitation_for_an_email_is_a_conflict(invite, token, mailoutbox):
    response = invite("DANA@example.com", {"vision": "viewer"})
    assert response.status_code == 409
    assert "already has a pending invitation; revoke it to send a new one" in (
        response.content.decode()
    )
    assert Invitation.objects.count() == 1
    assert len(mailoutbox) == 1


def test_a_refused_form_keeps_what_was_typed(invite, project, speech):
    html = invite("nope", {"speech": "admin"}).content.decode()
    assert 'value="nope"' in html
    assert '<option value="admin" selected>admin</option>' in html


def test_a_deleted_project_cannot_be_granted(staff, project):
    project.deleted_at = timezone.now()
    project.save()
    with pytest.raises(Invalid, match="project 'vision' is deleted"):
        invitation_create(
            principal=Principal(user=staff), email="d@example.com", grants=[(project, Role.VIEWER)]
        )


def test_a_failed_send_keeps_the_invitation_and_says_why(
    staff, project, monkeypatch, django_capture_on_commit_callbacks
):
    def refuse(*args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({"d@example.com": (550, b"no such user")})

    monkeypatch.setattr("apps.projects.invitations.send_mail", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        created = invitation_create(
            principal=Principal(user=staff), email="d@example.com", grants=[(project, Role.VIEWER)]
        )
    assert created.email_error == "{'d@example.com': (550, b'no such user')}"
    assert Invitation.objects.get().pk == created.invitation.pk


@pytest.mark.django_db(transaction=True)
def test_staff_see_that_the_email_was_not_sent(portal_as, staff, project, monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr("apps.projects.invitations.send_mail", refuse)
    client = portal_as(staff)
    response = client.post(
        PAGE, {"action": "create", "email": "d@example.com", "role-vision": "admin"}
    )
    assert response.status_code == 302
    html = client.get(PAGE).content.decode()
    assert (
        '<li class="error">The invitation of d@example.com was saved but the email was not sent '
        "([Errno 111] Connection refused). Revoke it and invite again once email works.</li>"
    ) in html


# ---- revoking ----------------------------------------------------------------------


def test_staff_revoke_a_pending_invitation(portal_as, staff, token):
    invitation = Invitation.objects.get()
    client = portal_as(staff)
    response = client.post(PAGE, {"action": "revoke", "invitation": str(invitation.pk)})
    assert (response.status_code, response["Location"]) == (302, PAGE)
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    html = client.get(PAGE).content.decode()
    assert "The invitation of dana@example.com is revoked." in html
    assert 'id="no-pending"' in html
    [event] = events("invite.revoke")
    assert (event.actor_label, event.actor_id, event.target_label, event.project_id) == (
        "sam_staff",
        str(staff.pk),
        "dana@example.com",
        None,
    )
    assert Client().get(f"/invite/{token}").status_code == 404


def test_revoking_twice_records_once(staff, token):
    invitation = Invitation.objects.get()
    invitation_revoke(principal=Principal(user=staff), invitation=invitation)
    invitation_revoke(principal=Principal(user=staff), invitation=invitation)
    assert len(events("invite.revoke")) == 1


def test_an_accepted_invitation_cannot_be_revoked(staff, token):
    invitation_accept_with_signup(token=token, username="dana", password=PASSWORD)
    with pytest.raises(Conflict, match="has been accepted"):
        invitation_revoke(principal=Principal(user=staff), invitation=Invitation.objects.get())


def test_revoking_an_accepted_invitation_is_refused_on_the_page(invite, token):
    invitation_accept_with_signup(token=token, username="dana", password=PASSWORD)
    invitation = Invitation.objects.get()
    response = invite.client.post(PAGE, {"action": "revoke", "invitation": str(invitation.pk)})
    assert response.status_code == 409
    assert (
        '<p class="error" role="alert" id="revoke-error">Not revoked: this invitation has been '
        "accepted; it cannot be revoked</p>"
    ) in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.revoked_at is None
    assert events("invite.revoke") == []


def test_an_unknown_staff_action_is_a_400(portal_as, staff):
    response = portal_as(staff).post(PAGE, {"action": "explode", "email": "e@example.com"})
    assert response.status_code == 400
    assert "unknown action &#x27;explode&#x27;" in response.content.decode()
    assert Invitation.objects.count() == 0


@pytest.mark.parametrize("value", ["999999", "abc", ""])
def test_revoking_an_unknown_invitation_is_a_404(value, portal_as, staff):
    response = portal_as(staff).post(PAGE, {"action": "revoke", "invitation": value})
    assert response.status_code == 404


def test_a_non_staff_cannot_revoke(portal_as, admin, token):
    invitation = Invitation.objects.get()
    response = portal_as(admin).post(PAGE, {"action": "revoke", "invitation": str(invitation.pk)})
    assert response.status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None
