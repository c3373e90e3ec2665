"""The user's own account page: name, email (needs the current password) and password
(Django's PasswordChangeForm; the session survives). It shows only its own user."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from tests.factories import UserFactory

PAGE = "/account"
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a different long passphrase 7"


@pytest.fixture
def erin(db):
    user = UserFactory(username="erin", email="erin@example.com", first_name="Erin", last_name="Ek")
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def client_of(erin) -> Client:
    client = Client()
    client.force_login(erin)
    return client


def text(response) -> str:
    return response.content.decode()


def error(html: str, element_id: str) -> str:
    found = re.search(
        rf'<(?:p|div) class="error" role="alert" id="{element_id}">(.*?)</(?:p|div)>', html, re.S
    )
    return found.group(1) if found else ""


# ---- who may open it -------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(PAGE)
    assert (response.status_code, response["Location"]) == (
        302,
        "/login?" + urlencode({"next": PAGE}, safe="/"),
    )


def test_the_page_shows_the_users_own_details(client_of, erin, outsider, member):
    response = client_of.get(PAGE)
    assert response.status_code == 200
    assert response.templates[0].name == "portal/account/account.html"
    html = text(response)
    assert "Signed in as <strong>erin</strong>." in html
    assert re.search(r'id="first-name"[^>]*value="Erin"', html)
    assert re.search(r'id="last-name"[^>]*value="Ek"', html)
    assert re.search(r'id="account-email"[^>]*value="erin@example.com"', html)
    # Nothing about anyone else.
    assert "mallory_outsider" not in html and "bob_member" not in html


def test_the_header_links_to_the_account_page(client_of):
    html = text(client_of.get("/projects"))
    assert '<a href="/account">Account</a>' in html


def test_every_form_needs_a_csrf_token(erin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(erin)
    response = client.post(PAGE, {"action": "name", "first_name": "X", "last_name": "Y"})
    assert response.status_code == 403
    erin.refresh_from_db()
    assert erin.first_name == "Erin"


def test_an_unknown_action_is_a_400(client_of):
    response = client_of.post(PAGE, {"action": "explode"})
    assert response.status_code == 400
    assert "unknown action &#x27;explode&#x27;" in text(response)


# ---- name ------------------------------------------------------------------------


def test_the_user_changes_their_name(client_of, erin):
    response = client_of.post(PAGE, {"action": "name", "first_name": " Erin ", "last_name": "Eko"})
    assert (response.status_code, response["Location"]) == (302, PAGE)
    erin.refresh_from_db()
    assert (erin.first_name, erin.last_name) == ("Erin", "Eko")
    assert '<li class="success">Your name is saved.</li>' in text(client_of.get(PAGE))


def test_a_name_over_150_characters_is_refused(client_of, erin):
    response = client_of.post(PAGE, {"action": "name", "first_name": "x" * 151, "last_name": ""})
    assert response.status_code == 400
    assert error(text(response), "first-name-error") == "a name is at most 150 characters"
    erin.refresh_from_db()
    assert erin.first_name == "Erin"


def test_a_name_is_escaped(client_of):
    client_of.post(
        PAGE, {"action": "name", "first_name": '"><script>alert(1)</script>', "last_name": ""}
    )
    html = text(client_of.get(PAGE))
    assert 'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html
    assert "<script>alert(1)</script>" not in html


# ---- email -----------------------------------------------------------------------


def test_the_user_changes_their_email_with_the_current_password(client_of, erin):
    response = client_of.post(
        PAGE, {"action": "email", "email": "erin@NEW.example", "password": PASSWORD}
    )
    assert (response.status_code, response["Location"]) == (302, PAGE)
    erin.refresh_from_db()
    assert erin.email == "erin@new.example"
    assert "Your email is now erin@new.example." in text(client_of.get(PAGE))


@pytest.mark.parametrize(
    ("email", "password", "element", "message"),
    [
        ("erin@new.example", "wrong", "email-password-error", "the current password is not right"),
        ("erin@new.example", "", "email-password-error", "the current password is not right"),
        (
            "not an email",
            PASSWORD,
            "email-error",
            "&#x27;not an email&#x27; is not an email address",
        ),
    ],
)
def test_a_refused_email_change_says_why(client_of, erin, email, password, element, message):
    response = client_of.post(PAGE, {"action": "email", "email": email, "password": password})
    assert response.status_code == 400
    html = text(response)
    assert error(html, element) == message
    # What was typed comes back, so it can be corrected.
    assert re.search(rf'id="account-email"[^>]*value="{re.escape(email)}"', html)
    erin.refresh_from_db()
    assert erin.email == "erin@example.com"


# ---- password --------------------------------------------------------------------


def password_post(client, old=PASSWORD, new1=NEW_PASSWORD, new2=NEW_PASSWORD):
    return client.post(
        PAGE,
        {"action": "password", "old_password": old, "new_password1": new1, "new_password2": new2},
    )


def test_the_user_changes_their_password_and_stays_signed_in(client_of, erin):
    response = password_post(client_of)
    assert (response.status_code, response["Location"]) == (302, PAGE)
    erin.refresh_from_db()
    assert erin.check_password(NEW_PASSWORD)
    after = client_of.get(PAGE)
    assert after.status_code == 200
    assert client_of.session[SESSION_KEY] == str(erin.pk)
    assert "Your password is changed." in text(after)


def test_other_sessions_end_when_the_password_changes(client_of, erin):
    elsewhere = Client()
    elsewhere.post("/login", {"username": "erin", "password": PASSWORD})
    assert elsewhere.get(PAGE).status_code == 200
    password_post(client_of)
    assert elsewhere.get(PAGE).status_code == 302


@pytest.mark.parametrize(
    ("old", "new1", "new2", "element", "message"),
    [
        (
            "wrong",
            NEW_PASSWORD,
            NEW_PASSWORD,
            "id_old_password-error",
            "Your old password was entered incorrectly. Please enter it again.",
        ),
        (
            PASSWORD,
            NEW_PASSWORD,
            NEW_PASSWORD + "!",
            "id_new_password2-error",
            "The two password fields didn\u2019t match.",
        ),
        (PASSWORD, "short", "short", "id_new_password2-error", "This password is too short."),
    ],
)
def test_a_refused_password_change_says_why(client_of, erin, old, new1, new2, element, message):
    response = password_post(client_of, old, new1, new2)
    assert response.status_code == 400
    assert message in error(text(response), element)
    erin.refresh_from_db()
    assert erin.check_password(PASSWORD)


def test_password_fields_never_echo_what_was_typed(client_of):
    html = text(password_post(client_of, old="wrong-secret-typed"))
    assert "wrong-secret-typed" not in html
    assert NEW_PASSWORD not in html
