"""Accepting an invitation: the one-time link creates the account (or joins an
existing one) with exactly the invited roles, once; every dead token is the same 404;
each step is audited with its actor."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.utils import timezone

from apps.accounts.models import Invitation, User
from apps.accounts.principal import Principal
from apps.core.errors import Forbidden, NotFound
from apps.projects.invitations import (
    invitation_accept,
    invitation_accept_with_signup,
    invitation_revoke,
)
from apps.projects.models import Membership, Role
from tests.accounts.conftest import PASSWORD, token_in
from tests.accounts.invitation_helpers import PAGE, events, roles_of, signup, without_csrf
from tests.factories import ProjectFactory, UserFactory

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
    from apps.projects import invitations

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


def test_another_signed_in_user_is_told_the_invitation_is_for_another_email(token, outsider):
    client = Client()
    client.force_login(outsider)
    html = client.get(f"/invite/{token}").content.decode()
    assert "This invitation is for <strong>d…@example.com</strong>." in html
    assert "You are signed in as <strong>mallory_outsider</strong>, whose email" in html
    assert 'value="join"' not in html
    assert 'id="create-account"' not in html
    response = client.post(f"/invite/{token}", {"action": "signup", "username": "x"})
    assert response.status_code == 400
    assert "you are signed in: sign out first to create the invited account" in (
        response.content.decode()
    )
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
