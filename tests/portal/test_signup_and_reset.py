"""Open sign-up (only behind KIROKU_OPEN_SIGNUP, off by default) and password reset by
email, which answers the same whether or not the email has an account."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client, override_settings

from apps.accounts.models import User
from apps.projects.models import Membership
from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a different long passphrase 7"


def text(response) -> str:
    return response.content.decode()


def without_csrf(html: str) -> str:
    html = re.sub(r'"X-CSRFToken": "[^"]*"', '"X-CSRFToken": ""', html)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


# ---- sign-up -----------------------------------------------------------------------

SIGNUP = {
    "username": "frank",
    "email": "frank@example.com",
    "password1": PASSWORD,
    "password2": PASSWORD,
}


def test_open_signup_is_off_by_default():
    assert settings.KIROKU_OPEN_SIGNUP is False


@pytest.mark.django_db
def test_with_signup_off_the_page_is_a_404(client):
    assert client.get("/signup").status_code == 404
    response = client.post("/signup", SIGNUP)
    assert response.status_code == 404
    assert response.templates[0].name == "404.html"
    assert not User.objects.filter(username="frank").exists()


@pytest.mark.django_db
def test_with_signup_off_the_sign_in_page_offers_no_sign_up(client):
    html = text(client.get("/login"))
    assert "/signup" not in html


@pytest.mark.django_db
@override_settings(KIROKU_OPEN_SIGNUP=True)
def test_with_signup_on_the_sign_in_page_links_to_it(client):
    html = text(client.get("/login"))
    assert '<a href="/signup" id="sign-up">Create an account</a>' in html


@pytest.mark.django_db
@override_settings(KIROKU_OPEN_SIGNUP=True)
def test_with_signup_on_anyone_creates_an_account_in_no_project(client, project):
    assert client.get("/signup").templates[0].name == "portal/account/signup.html"
    response = client.post("/signup", SIGNUP)
    assert (response.status_code, response["Location"]) == (302, "/projects")
    user = User.objects.get(username="frank")
    assert (user.email, user.is_staff, user.check_password(PASSWORD)) == (
        "frank@example.com",
        False,
        True,
    )
    assert not Membership.objects.filter(user=user).exists()
    assert client.session[SESSION_KEY] == str(user.pk)
    html = text(client.get("/projects"))
    assert "Welcome, frank." in html
    assert "You are not in any project yet." in html


@pytest.mark.django_db
@override_settings(KIROKU_OPEN_SIGNUP=True)
@pytest.mark.parametrize(
    ("changes", "status", "element", "message"),
    [
        (
            {"username": "bob_member"},
            409,
            "username-error",
            "the username &#x27;bob_member&#x27; is taken",
        ),
        (
            {"username": "Bob_Member"},
            409,
            "username-error",
            "the username &#x27;Bob_Member&#x27; is taken",
        ),
        ({"username": "frank!"}, 400, "username-error", "a username is 1 to 150 letters"),
        ({"email": "frank"}, 400, "email-error", "&#x27;frank&#x27; is not an email address"),
        (
            {"password1": "zq7", "password2": "zq7"},
            400,
            "password-error",
            "This password is too short.",
        ),
        ({"password2": "other"}, 400, "password2-error", "the two passwords differ"),
    ],
)
def test_a_refused_signup_says_why(client, member, changes, status, element, message):
    response = client.post("/signup", {**SIGNUP, **changes})
    assert response.status_code == status
    assert re.search(
        rf'<p class="error" role="alert" id="{element}">{re.escape(message)}', text(response)
    )
    assert User.objects.count() == 1  # bob_member only
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
@override_settings(KIROKU_OPEN_SIGNUP=True)
def test_a_refused_signup_keeps_what_was_typed_escaped(client):
    html = text(client.post("/signup", {**SIGNUP, "username": "<i>x</i>", "email": "a<b>@x"}))
    assert 'value="&lt;i&gt;x&lt;/i&gt;"' in html
    assert 'value="a&lt;b&gt;@x"' in html
    assert "<i>x</i>" not in html


@override_settings(KIROKU_OPEN_SIGNUP=True)
def test_a_signed_in_user_is_sent_to_the_projects(portal_as, member):
    response = portal_as(member).get("/signup")
    assert (response.status_code, response["Location"]) == (302, "/projects")


# ---- password reset ----------------------------------------------------------------


@pytest.fixture
def grace(db):
    user = UserFactory(username="grace", email="grace@example.com")
    user.set_password(PASSWORD)
    user.save()
    return user


def test_the_sign_in_page_links_to_the_reset(client, db):
    html = text(client.get("/login"))
    assert '<a href="/password-reset" id="forgot-password">Forgot your password?</a>' in html


def test_the_reset_page_asks_for_an_email(client, db):
    response = client.get("/password-reset")
    assert response.status_code == 200
    assert response.templates[0].name == "registration/password_reset_form.html"
    assert '<label for="id_email">Email</label>' in text(response)


def _reset_link(message) -> str:
    found = re.search(
        re.escape(settings.KIROKU_BASE_URL) + r"(/password-reset/[A-Za-z0-9_-]+/[A-Za-z0-9-]+)\n",
        message.body,
    )
    assert found, message.body
    return found.group(1)


def test_a_reset_by_email_end_to_end(client, grace, mailoutbox):
    response = client.post("/password-reset", {"email": "GRACE@example.com"})
    assert (response.status_code, response["Location"]) == (302, "/password-reset/sent")
    [message] = mailoutbox
    assert message.to == ["grace@example.com"]
    assert message.subject == "Reset your Kiroku password"
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert message.body.startswith("Hello grace,\n")
    link = _reset_link(message)

    visitor = Client()
    opened = visitor.get(link)
    # Django swaps the token for a session marker, so it never stays in the URL.
    assert opened.status_code == 302
    form_url = opened["Location"]
    assert form_url.endswith("/set-password")
    page = visitor.get(form_url)
    assert page.templates[0].name == "registration/password_reset_confirm.html"
    assert "Choose a new password" in text(page)
    done = visitor.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert (done.status_code, done["Location"]) == (302, "/password-reset/done")
    assert "Your password is set" in text(visitor.get("/password-reset/done"))

    grace.refresh_from_db()
    assert grace.check_password(NEW_PASSWORD)
    signed = Client().post("/login", {"username": "grace", "password": NEW_PASSWORD})
    assert signed["Location"] == "/projects"
    # The link works once.
    again = Client().get(link)
    assert again.status_code == 200
    assert 'id="reset-invalid"' in text(again)


def test_an_email_without_an_account_gets_the_same_answer(grace, mailoutbox):
    known, unknown = Client(), Client()
    first = known.post("/password-reset", {"email": "grace@example.com"})
    second = unknown.post("/password-reset", {"email": "nobody@example.com"})
    assert (first.status_code, first["Location"]) == (second.status_code, second["Location"])
    assert without_csrf(text(known.get(first["Location"]))) == without_csrf(
        text(unknown.get(second["Location"]))
    )
    assert [m.to for m in mailoutbox] == [["grace@example.com"]]


def test_an_inactive_account_gets_no_mail_and_the_same_answer(grace, client, mailoutbox):
    grace.is_active = False
    grace.save()
    response = client.post("/password-reset", {"email": "grace@example.com"})
    assert response["Location"] == "/password-reset/sent"
    assert mailoutbox == []


def test_a_tampered_link_is_refused(client, grace, mailoutbox):
    client.post("/password-reset", {"email": "grace@example.com"})
    link = _reset_link(mailoutbox[0])
    response = Client().get(link[:-2] + ("aa" if not link.endswith("aa") else "bb"))
    assert response.status_code == 200
    assert 'id="reset-invalid"' in text(response)
    grace.refresh_from_db()
    assert grace.check_password(PASSWORD)


def test_a_weak_new_password_is_refused(client, grace, mailoutbox):
    client.post("/password-reset", {"email": "grace@example.com"})
    visitor = Client()
    form_url = visitor.get(_reset_link(mailoutbox[0]))["Location"]
    response = visitor.post(form_url, {"new_password1": "short", "new_password2": "short"})
    assert response.status_code == 200
    assert "This password is too short." in text(response)
    grace.refresh_from_db()
    assert grace.check_password(PASSWORD)


def test_the_reset_link_uses_the_configured_base_url(client, grace, mailoutbox):
    with override_settings(KIROKU_BASE_URL="https://kiroku.example.org"):
        client.post("/password-reset", {"email": "grace@example.com"})
    assert re.search(
        r"^https://kiroku\.example\.org/password-reset/\S+/\S+$", mailoutbox[0].body, re.M
    )
