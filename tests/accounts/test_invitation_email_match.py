"""An invitation is accepted only by the address it was sent to: a signed-in account
whose email is the invited one (any letter case, NFKC-normalised), or a new account
made through the link, whose email is the invited one whatever the form says. Any
other account is shown which address the invitation is for (masked) and how to go on,
and accepting changes nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from apps.accounts.models import Invitation, User
from apps.accounts.principal import Principal
from apps.projects.invitations import (
    InvitationForAnother,
    email_mask,
    invitation_accept,
    invitation_email_matches,
)
from tests.accounts.invitation_helpers import events, roles_of, signup
from tests.factories import UserFactory


@pytest.mark.parametrize(
    ("email", "matches"),
    [
        ("dana@example.com", True),
        ("DANA@Example.COM", True),
        (" dana@example.com ", True),
        # Fullwidth letters: the same address after NFKC.
        ("\uff44\uff41\uff4e\uff41@example.com", True),
        ("dana@example.co", False),
        ("dana+1@example.com", False),
        ("dan@example.com", False),
        ("", False),
    ],
)
def test_the_invited_address_is_compared_case_insensitively_and_normalised(email, matches):
    invitation = Invitation(email="dana@example.com")

    assert invitation_email_matches(invitation=invitation, email=email) is matches


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("dana@example.com", "d…@example.com"),
        ("a@example.com", "a…@example.com"),
        ("first.last+tag@mail.example.org", "f…@mail.example.org"),
    ],
)
def test_an_address_is_masked_to_its_first_letter_and_domain(email, masked):
    assert email_mask(email) == masked


# ---- a signed-in account with the invited email -------------------------------------


def test_the_invited_account_joins_whatever_the_letter_case(token, db):
    dana = UserFactory(username="dana_existing", email="DANA@example.com")
    client = Client()
    client.force_login(dana)

    response = client.post(f"/invite/{token}", {"action": "join"})

    assert (response.status_code, response["Location"]) == (302, "/projects")
    assert roles_of(dana) == {"vision": "admin", "speech": "viewer"}
    assert Invitation.objects.get().accepted_by_id == dana.pk


# ---- a signed-in account with another email -----------------------------------------


@pytest.fixture
def mallory_client(outsider) -> Client:
    client = Client()
    client.force_login(outsider)
    return client


def test_another_account_is_shown_the_masked_address_and_how_to_go_on(token, mallory_client):
    response = mallory_client.get(f"/invite/{token}")

    html = response.content.decode()
    assert response.status_code == 200
    assert "sam_staff invited <strong>d…@example.com</strong> to join:" in html
    assert "This invitation is for another email</h2>" in html
    assert "sign in with the account that has that address" in html
    assert f'<input type="hidden" name="next" value="/invite/{token}">' in html
    assert 'action="/logout"' in html
    assert "dana@example.com" not in html
    assert 'value="join"' not in html


def test_another_account_cannot_accept_and_nothing_changes(token, mallory_client, outsider):
    response = mallory_client.post(f"/invite/{token}", {"action": "join"})

    assert response.status_code == 403
    assert (
        "this invitation is for d…@example.com, not for the account you are signed in with; "
        "sign out, then sign in with that address (or create its account) to accept"
    ) in response.content.decode()
    assert roles_of(outsider) == {}
    invitation = Invitation.objects.get()
    assert (invitation.accepted_at, invitation.accepted_by_id) == (None, None)
    assert events("invite.accept") == events("member.add") == []


def test_the_service_refuses_another_account(token, outsider):
    with pytest.raises(InvitationForAnother) as refused:
        invitation_accept(principal=Principal(user=outsider), token=token)

    assert (refused.value.status, refused.value.code, refused.value.invited) == (
        403,
        "invitation_for_another_email",
        "d…@example.com",
    )
    assert Invitation.objects.get().accepted_at is None


def test_a_refused_account_leaves_the_invitation_to_its_addressee(token, mallory_client, db):
    mallory_client.post(f"/invite/{token}", {"action": "join"})
    dana = UserFactory(username="dana_existing", email="dana@example.com")
    client = Client()
    client.force_login(dana)

    assert client.post(f"/invite/{token}", {"action": "join"}).status_code == 302
    assert roles_of(dana) == {"vision": "admin", "speech": "viewer"}


def test_signing_out_from_the_page_comes_back_to_the_invitation(token, mallory_client):
    response = mallory_client.post("/logout", {"next": f"/invite/{token}"})

    assert (response.status_code, response["Location"]) == (302, f"/invite/{token}")
    html = mallory_client.get(f"/invite/{token}").content.decode()
    assert "sam_staff invited <strong>dana@example.com</strong> to join:" in html
    assert '<h2 id="create-title">Create your account</h2>' in html


# ---- a new account through the link --------------------------------------------------


def test_a_new_account_gets_the_invited_email_whatever_the_form_says(token):
    client = Client()

    response = signup(client, token, username="dana", email="mallory@elsewhere.example")

    assert response.status_code == 302
    user = User.objects.get(username="dana")
    assert user.email == "dana@example.com"
    assert client.session[SESSION_KEY] == str(user.pk)
    assert roles_of(user) == {"vision": "admin", "speech": "viewer"}


def test_the_new_account_form_shows_the_email_without_letting_it_change(token):
    html = Client().get(f"/invite/{token}").content.decode()

    assert (
        '<input type="email" id="invite-account-email" value="dana@example.com" readonly '
        'aria-describedby="email-help">'
    ) in html
