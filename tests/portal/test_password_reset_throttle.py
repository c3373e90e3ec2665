"""Password-reset requests are throttled per client address (429 with the form) and
per email address (the same "check your email" page, and no email), counting the
emails actually sent; neither limit tells whether an address has an account."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.core.test_throttles import rates  # noqa: F401 (fixture)
from tests.factories import UserFactory
from tests.portal.test_signup_and_reset import without_csrf

RESET = "/password-reset"
SENT = (302, "/password-reset/sent")
# NOW (tests/core/test_throttles.py) is 15 s into an hour.
HOUR = 3600


@pytest.fixture
def grace(db):
    return UserFactory(username="grace", email="grace@example.com")


def ask(client: Client, email: str) -> tuple[int, str | None]:
    response = client.post(RESET, {"email": email})
    return response.status_code, response.get("Location")


def test_requests_from_one_address_are_limited_whatever_the_email(
    rates,  # noqa: F811
    client,
    grace,
    mailoutbox,
):
    rates(password_reset=(2, HOUR))
    assert [ask(client, email) for email in ("nobody@example.com", "grace@example.com")] == [
        SENT,
        SENT,
    ]
    assert [m.to for m in mailoutbox] == [["grace@example.com"]]

    refused = client.post(RESET, {"email": "grace@example.com"})

    # 3585 s to the end of the hour, then 1800 s until 2 counted requests weigh under 1.
    assert (refused.status_code, refused["Retry-After"]) == (429, "5385")
    html = refused.content.decode()
    assert "Too many password-reset requests from this address; try again in 5385 s." in html
    assert 'value="grace@example.com"' in html
    assert refused.templates[0].name == "registration/password_reset_form.html"
    assert len(mailoutbox) == 1


def test_another_client_address_has_its_own_limit(rates, grace, mailoutbox):  # noqa: F811
    rates(password_reset=(1, HOUR))
    assert ask(Client(REMOTE_ADDR="203.0.113.7"), "grace@example.com") == SENT
    assert Client(REMOTE_ADDR="203.0.113.7").post(RESET, {"email": "x@y.org"}).status_code == 429

    assert ask(Client(REMOTE_ADDR="198.51.100.2"), "grace@example.com") == SENT
    assert len(mailoutbox) == 2


def test_emails_to_one_address_are_limited_and_the_page_stays_the_same(
    rates,  # noqa: F811
    grace,
    mailoutbox,
):
    rates(password_reset_email=(2, HOUR))
    # From different client addresses, and in any letter case: one email address.
    answers = [
        ask(Client(REMOTE_ADDR=f"203.0.113.{n}"), email)
        for n, email in enumerate(("grace@example.com", "GRACE@example.com", "Grace@Example.COM"))
    ]

    assert answers == [SENT, SENT, SENT]
    assert [m.to for m in mailoutbox] == [["grace@example.com"], ["grace@example.com"]]


def test_a_limited_address_answers_as_an_address_without_an_account(
    rates,  # noqa: F811
    client,
    grace,
    mailoutbox,
):
    rates(password_reset_email=(1, HOUR))
    ask(client, "grace@example.com")

    limited = client.post(RESET, {"email": "grace@example.com"}, follow=True)
    unknown = client.post(RESET, {"email": "nobody@example.com"}, follow=True)

    assert limited.redirect_chain == unknown.redirect_chain == [("/password-reset/sent", 302)]
    assert without_csrf(limited.content.decode()) == without_csrf(unknown.content.decode())
    assert len(mailoutbox) == 1


def test_other_email_addresses_are_not_held_back(rates, client, grace, mailoutbox):  # noqa: F811
    rates(password_reset_email=(1, HOUR))
    UserFactory(username="heidi", email="heidi@example.com")
    ask(client, "grace@example.com")
    ask(client, "grace@example.com")

    assert ask(client, "heidi@example.com") == SENT
    assert [m.to for m in mailoutbox] == [["grace@example.com"], ["heidi@example.com"]]


def test_an_address_is_counted_before_it_has_an_account(rates, client, db, mailoutbox):  # noqa: F811
    """Every address asked for is counted, so the limit behaves the same whether or
    not an account has it."""
    rates(password_reset_email=(1, HOUR))
    ask(client, "ivan@example.com")
    UserFactory(username="ivan", email="ivan@example.com")

    assert ask(client, "ivan@example.com") == SENT
    assert mailoutbox == []
