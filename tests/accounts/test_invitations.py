"""Invitations: a site admin invites an email into projects with roles; the one-time
link in the email creates the account (or joins an existing one) with exactly those
roles, once; every dead token is the same 404; each step is audited with its actor."""

from __future__ import annotations

import base64
import hashlib
import re
import smtplib
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client, override_settings
from django.utils import timezone

from apps.accounts.invitations import (
    invitation_accept,
    invitation_accept_with_signup,
    invitation_create,
    invitation_revoke,
)
from apps.accounts.models import Invitation, InvitationProject, User
from apps.accounts.principal import Principal
from apps.audit.models import AuditEvent
from apps.core.errors import Conflict, Forbidden, Invalid, NotFound
from apps.projects.models import Membership, Role
from tests.accounts.conftest import PASSWORD, link_re, token_in
from tests.factories import ProjectFactory, UserFactory

PAGE = "/invites"


def roles_of(user) -> dict[str, str]:
    return {
        m.project.slug: Role(m.role).label
        for m in Membership.objects.filter(user=user).select_related("project")
    }


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


def without_csrf(html: str) -> str:
    """The page with its per-request CSRF token blanked, for comparing two answers."""
    html = re.sub(r'"X-CSRFToken": "[^"]*"', '"X-CSRFToken": ""', html)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def signup(client: Client, token: str, username: str = "dana", **overrides):
    body = {"action": "signup", "username": username, "password1": PASSWORD}
    body["password2"] = body["password1"]
    body.update(overrides)
    return client.post(f"/invite/{token}", body)


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

    monkeypatch.setattr("apps.accounts.invitations.send_mail", refuse)
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

    monkeypatch.setattr("apps.accounts.invitations.send_mail", refuse)
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


# ---- accepting: a new account ------------------------------------------------------


def test_the_invitee_sees_the_projects_and_the_form(token):
    response = Client().get(f"/invite/{token}")
    html = response.content.decode()
    assert response.status_code == 200
    assert "sam_staff invited <strong>dana@example.com</strong> to join:" in html
    assert re.findall(r"<li>(\w+) as <strong>(\w+)</strong></li>", html) == [
        ("Speech", "viewer"),
        ("Vision", "admin"),
    ]
    assert '<h2 id="create-title">Create your account</h2>' in html
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


def test_accepting_creates_the_user_with_exactly_those_roles_and_signs_in(token, project):
    client = Client()
    response = signup(client, token, username="dana")
    assert (response.status_code, response["Location"]) == (302, "/projects")
    user = User.objects.get(username="dana")
    assert user.email == "dana@example.com"
    assert user.check_password(PASSWORD)
    assert roles_of(user) == {"vision": "admin", "speech": "viewer"}
    assert client.session[SESSION_KEY] == str(user.pk)
    html = client.get("/projects").content.decode()
    assert re.findall(r'<a href="/projects/([a-z-]+)">', html) == ["speech", "vision"]
    assert "Welcome, dana. You joined Speech (viewer), Vision (admin)." in html
    invitation = Invitation.objects.get()
    assert (invitation.accepted_by_id, invitation.accepted_at is not None) == (user.pk, True)


def test_the_token_is_dead_once_used(token):
    signup(Client(), token)
    assert Client().get(f"/invite/{token}").status_code == 404
    again = signup(Client(), token, username="dana2")
    assert again.status_code == 404
    assert not User.objects.filter(username="dana2").exists()


def test_accepting_is_audited_with_the_invitee_as_actor(token, project, speech):
    signup(Client(), token)
    user = User.objects.get(username="dana")
    invitation = Invitation.objects.get()
    [accept] = events("invite.accept")
    assert (accept.actor_type, accept.actor_id, accept.actor_label, accept.project_id) == (
        "user",
        str(user.pk),
        "dana",
        None,
    )
    assert (accept.target_id, accept.target_label) == (str(invitation.pk), "dana@example.com")
    assert accept.metadata == {
        "created_user": True,
        "invited_by": "sam_staff",
        "joined": [{"project": "speech", "role": "viewer"}, {"project": "vision", "role": "admin"}],
        "kept": [],
    }
    added = events("member.add")
    assert [(e.project_id, e.actor_label, e.target_label, e.metadata) for e in added] == [
        (
            speech.pk,
            "dana",
            "dana",
            {"role": "viewer", "invitation": invitation.pk, "invited_by": "sam_staff"},
        ),
        (
            project.pk,
            "dana",
            "dana",
            {"role": "admin", "invitation": invitation.pk, "invited_by": "sam_staff"},
        ),
    ]


def test_the_acceptance_records_the_invitees_address(token):
    signup(Client(REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Firefox/130"), token)
    for event in events("invite.accept") + events("member.add"):
        assert (event.ip, event.user_agent) == ("203.0.113.9", "Firefox/130")


@pytest.mark.parametrize(
    ("username", "password1", "password2", "status", "field", "message"),
    [
        (
            "bob_member",
            PASSWORD,
            PASSWORD,
            409,
            "username",
            "the username &#x27;bob_member&#x27; is taken",
        ),
        (
            "BOB_MEMBER",
            PASSWORD,
            PASSWORD,
            409,
            "username",
            "the username &#x27;BOB_MEMBER&#x27; is taken",
        ),
        ("dana smith", PASSWORD, PASSWORD, 400, "username", "a username is 1 to 150 letters"),
        ("dana@home", PASSWORD, PASSWORD, 400, "username", "a username is 1 to 150 letters"),
        ("", PASSWORD, PASSWORD, 400, "username", "a username is 1 to 150 letters"),
        ("dana", "short", "short", 400, "password", "This password is too short."),
        ("dana", "password", "password", 400, "password", "This password is too common."),
        ("dana", PASSWORD, PASSWORD + "x", 400, "password2", "the two passwords differ"),
    ],
)
def test_a_refused_signup_says_why_and_the_invitation_stays(
    username, password1, password2, status, field, message, token, member
):
    response = signup(Client(), token, username=username, password1=password1, password2=password2)
    assert response.status_code == status
    html = response.content.decode()
    assert re.search(
        rf'<p class="error" role="alert" id="{field}-error">{re.escape(message)}', html
    ), html
    assert User.objects.filter(email="dana@example.com").count() == 0
    assert Invitation.objects.get().accepted_at is None
    assert events("invite.accept") == []


def test_what_was_typed_comes_back_escaped(token):
    html = signup(Client(), token, username='"><script>x</script>').content.decode()
    assert 'value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"' in html
    assert "<script>x</script>" not in html


def test_user_text_on_the_invite_page_is_escaped(invite, mailoutbox, db):
    ProjectFactory(slug="xss", name="<img src=x onerror=alert(1)>")
    invite("dana@example.com", {"xss": "member"})
    html = Client().get(f"/invite/{token_in(mailoutbox[0])}").content.decode()
    assert "<li>&lt;img src=x onerror=alert(1)&gt; as <strong>member</strong></li>" in html
    assert "<img src=x" not in html


def test_user_text_on_the_staff_page_is_escaped(invite, portal_as, staff, db):
    ProjectFactory(slug="xss", name="<b>bold</b>")
    invite("dana@example.com", {"xss": "member"})
    html = portal_as(staff).get(PAGE).content.decode()
    assert "&lt;b&gt;bold&lt;/b&gt; (member)" in html
    assert "<b>bold</b>" not in html


def test_a_project_deleted_before_acceptance_is_skipped(token, project):
    project.deleted_at = timezone.now()
    project.save()
    signup(Client(), token)
    assert roles_of(User.objects.get(username="dana")) == {"speech": "viewer"}


# ---- every dead token is the same 404 ----------------------------------------------


@pytest.fixture
def dead(invite, mailoutbox, staff, project) -> dict[str, str]:
    """One token per way of being dead, plus malformed and unknown ones."""
    tokens = {}
    for name in ("expired", "revoked", "used"):
        invite(f"{name}@example.com", {"vision": "viewer"})
        tokens[name] = token_in(mailoutbox[-1])
    Invitation.objects.filter(email="expired@example.com").update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    invitation_revoke(
        principal=Principal(user=staff),
        invitation=Invitation.objects.get(email="revoked@example.com"),
    )
    invitation_accept_with_signup(token=tokens["used"], username="used", password=PASSWORD)
    tokens["unknown"] = "A" * 43
    tokens["malformed-short"] = "abc"
    tokens["malformed-chars"] = "!" * 43
    tokens["malformed-long"] = tokens["expired"] + "x"
    return tokens


KINDS = [
    "expired",
    "revoked",
    "used",
    "unknown",
    "malformed-short",
    "malformed-chars",
    "malformed-long",
]


def test_every_dead_token_is_the_same_404_page(dead):
    pages = {}
    for kind in KINDS:
        response = Client().get(f"/invite/{dead[kind]}")
        assert (kind, response.status_code) == (kind, 404)
        assert response.templates[0].name == "404.html"
        pages[kind] = without_csrf(response.content.decode())
    assert len(set(pages.values())) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_posting_to_a_dead_token_is_a_404_and_creates_nobody(kind, dead, outsider):
    before = User.objects.count()
    assert signup(Client(), dead[kind], username=f"x{kind}".replace("-", "")).status_code == 404
    client = Client()
    client.force_login(outsider)
    assert client.post(f"/invite/{dead[kind]}", {"action": "join"}).status_code == 404
    assert User.objects.count() == before
    assert roles_of(outsider) == {}


def test_an_invitation_expires_after_seven_days(token):
    Invitation.objects.update(expires_at=timezone.now() - timedelta(microseconds=1))
    assert Client().get(f"/invite/{token}").status_code == 404
    with pytest.raises(NotFound):
        invitation_accept_with_signup(token=token, username="dana", password=PASSWORD)


# ---- double submits and races ------------------------------------------------------


def test_a_double_submit_makes_one_account(token):
    first, second = Client(), Client()
    assert signup(first, token).status_code == 302
    assert signup(second, token, username="dana_again").status_code == 404
    assert list(
        User.objects.filter(email="dana@example.com").values_list("username", flat=True)
    ) == ["dana"]
    assert len(events("invite.accept")) == 1
    assert len(events("member.add")) == 2


def test_a_claim_lost_to_another_accept_undoes_the_account(token, monkeypatch):
    """The invitation is used between the page's check and the transaction: the claim
    finds it gone, and the account made in the same transaction is undone."""
    from apps.accounts import invitations

    real = invitations.invitation_get_pending

    def stale(*, token):
        found = real(token=token)
        Invitation.objects.filter(pk=found.pk).update(accepted_at=timezone.now())
        return found

    monkeypatch.setattr(invitations, "invitation_get_pending", stale)
    with pytest.raises(NotFound):
        invitation_accept_with_signup(token=token, username="late", password=PASSWORD)
    assert not User.objects.filter(username="late").exists()
    assert events("invite.accept") == []


# ---- accepting: an existing account ------------------------------------------------


@pytest.fixture
def dana(db):
    user = UserFactory(username="dana_existing", email="Dana@Example.com")
    user.set_password(PASSWORD)
    user.save()
    return user


def test_an_existing_account_is_told_to_sign_in(token, dana):
    html = Client().get(f"/invite/{token}").content.decode()
    assert "An account with this email already exists." in html
    assert f'href="/login?next=/invite/{token}"' in html
    assert 'href="/password-reset"' in html
    assert 'id="create-account"' not in html


def test_an_existing_account_cannot_be_duplicated_through_the_link(token, dana):
    response = signup(Client(), token, username="dana2")
    assert response.status_code == 409
    assert "an account with this email exists; sign in to accept" in response.content.decode()
    assert not User.objects.filter(username="dana2").exists()


def test_signing_in_comes_back_to_the_invitation(token, dana):
    client = Client()
    response = client.post(
        "/login",
        {"username": "dana_existing", "password": PASSWORD, "next": f"/invite/{token}"},
    )
    assert response["Location"] == f"/invite/{token}"
    html = client.get(f"/invite/{token}").content.decode()
    assert '<h2 id="join-title" style="margin-top:0">Join as dana_existing</h2>' in html
    assert "Accepting adds these projects to your account." in html


def test_a_signed_in_user_joins_and_keeps_existing_roles(token, dana, project, speech):
    Membership.objects.create(project=speech, user=dana, role=Role.MEMBER)
    client = Client()
    client.force_login(dana)
    response = client.post(f"/invite/{token}", {"action": "join"})
    assert (response.status_code, response["Location"]) == (302, "/projects")
    assert roles_of(dana) == {"vision": "admin", "speech": "member"}
    html = client.get("/projects").content.decode()
    assert "Welcome, dana_existing. You joined Vision (admin)." in html
    assert "You were already member in Speech; that is unchanged." in html
    [accept] = events("invite.accept")
    assert (accept.actor_label, accept.metadata["created_user"], accept.metadata["kept"]) == (
        "dana_existing",
        False,
        [{"project": "speech", "role": "member"}],
    )
    assert [(e.project_id, e.actor_label) for e in events("member.add")] == [
        (project.pk, "dana_existing")
    ]
    assert client.get(f"/invite/{token}").status_code == 404


def test_another_signed_in_user_is_told_which_account_joins(token, outsider):
    client = Client()
    client.force_login(outsider)
    html = client.get(f"/invite/{token}").content.decode()
    assert "You are signed in as <strong>mallory_outsider</strong>." in html
    assert 'id="create-account"' not in html
    response = client.post(f"/invite/{token}", {"action": "signup", "username": "x"})
    assert response.status_code == 400
    assert not User.objects.filter(username="x").exists()


def test_joining_needs_a_signed_in_user(token):
    response = Client().post(f"/invite/{token}", {"action": "join"})
    assert (response.status_code, response["Location"]) == (302, f"/login?next=/invite/{token}")
    assert Invitation.objects.get().accepted_at is None


def test_the_service_needs_a_user(token):
    with pytest.raises(Forbidden):
        invitation_accept(principal=Principal.system(), token=token)


def test_an_unknown_action_is_a_400(token):
    response = Client().post(f"/invite/{token}", {"action": "explode"})
    assert response.status_code == 400
    assert "unknown action &#x27;explode&#x27;" in response.content.decode()
