"""Tokens made on the portal may expire: 7, 30, 90 or 365 days from now, or after a
chosen date; never by default. The same choice on the personal tokens page and for a
project's service tokens, the bounds checked on the server, and the expiry listed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import ApiToken, TokenKind
from apps.core.errors import Invalid
from apps.portal.token_expiry import EXPIRY_MAX_DAYS, token_expiry_from_form

NOW = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)
SETTINGS = "/projects/vision/settings"


# ---- reading the choice ------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "expires_at"),
    [
        ({}, None),
        ({"expires": "never"}, None),
        ({"expires": "7"}, NOW + timedelta(days=7)),
        ({"expires": "30"}, NOW + timedelta(days=30)),
        ({"expires": "90"}, NOW + timedelta(days=90)),
        ({"expires": "365"}, NOW + timedelta(days=365)),
        # It works through the chosen day (UTC) and stops at the midnight after it.
        ({"expires": "date", "expires_on": "2026-03-02"}, datetime(2026, 3, 3, tzinfo=UTC)),
        ({"expires": "date", "expires_on": "2027-03-02"}, datetime(2027, 3, 3, tzinfo=UTC)),
    ],
)
def test_the_choice_gives_the_expiry(form, expires_at):
    assert token_expiry_from_form(form, now=NOW) == expires_at


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        (
            {"expires": "14"},
            "expires",
            "choose when the token expires: never, in 7 days, in 30 days, in 90 days, "
            "in a year, on a date",
        ),
        ({"expires": "date"}, "expires_on", "give the date the token expires on"),
        (
            {"expires": "date", "expires_on": "next week"},
            "expires_on",
            "the expiry date must be a date such as 2026-12-31",
        ),
        (
            {"expires": "date", "expires_on": "2026-03-01"},
            "expires_on",
            "the expiry date must be after today (UTC)",
        ),
        (
            {"expires": "date", "expires_on": "2025-01-01"},
            "expires_on",
            "the expiry date must be after today (UTC)",
        ),
        (
            {"expires": "date", "expires_on": "2027-03-03"},
            "expires_on",
            f"the expiry date must be at most {EXPIRY_MAX_DAYS} days away; "
            "choose “Never” for a token without expiry",
        ),
        (
            {"expires": "never", "expires_on": "2026-04-01"},
            "expires_on",
            "a date is used only with “On a date”: choose it, or clear the date",
        ),
    ],
)
def test_a_choice_out_of_bounds_is_refused(form, field, message):
    with pytest.raises(Invalid) as refused:
        token_expiry_from_form(form, now=NOW)
    assert (refused.value.field, refused.value.message) == (field, message)


# ---- personal tokens ---------------------------------------------------------------


def test_a_personal_token_expires_when_chosen(portal_as, member):
    before = timezone.now()
    html = portal_as(member).post("/tokens", {"name": "laptop", "expires": "30"}).content.decode()
    token = ApiToken.objects.get(user=member, name="laptop")
    assert before + timedelta(days=30) <= token.expires_at <= timezone.now() + timedelta(days=30)
    shown = token.expires_at.strftime("%Y-%m-%d %H:%M")
    assert f'created; it expires <time datetime="{token.expires_at.isoformat()}">{shown} UTC' in (
        html
    )


def test_a_personal_token_never_expires_by_default(portal_as, member):
    portal_as(member).post("/tokens", {"name": "laptop"})
    assert ApiToken.objects.get(user=member, name="laptop").expires_at is None


def test_the_token_list_shows_each_expiry(portal_as, member):
    client = portal_as(member)
    tomorrow = (timezone.now() + timedelta(days=1)).date()
    client.post("/tokens", {"name": "short", "expires": "date", "expires_on": tomorrow})
    client.post("/tokens", {"name": "forever", "expires": "never"})
    html = client.get("/tokens").content.decode()
    cells = re.findall(r'<td class="token-expires">(.*?)</td>', html)
    end = tomorrow + timedelta(days=1)
    assert cells == [
        "never",  # newest first
        f'<time datetime="{end.isoformat()}T00:00:00+00:00" title="{end.isoformat()}T00:00:00'
        f'+00:00">{end.isoformat()} 00:00 UTC</time>',
    ]
    assert '<th scope="col">Expires</th>' in html


def test_a_refused_expiry_keeps_the_form_and_makes_no_token(portal_as, member):
    response = portal_as(member).post(
        "/tokens", {"name": "laptop", "expires": "date", "expires_on": "2001-01-01"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert (
        '<p class="error" role="alert" id="token-error">Not created: '
        "the expiry date must be after today (UTC)</p>"
    ) in html
    assert 'value="laptop"' in html
    assert '<option value="date" selected>On a date…</option>' in html
    assert re.search(
        r'id="token-expires-on" name="expires_on" min="[\d-]+" max="[\d-]+" value="2001-01-01"'
        r' aria-invalid="true" aria-describedby="token-error">',
        html,
    )
    assert not ApiToken.objects.filter(user=member).exists()


def test_the_date_input_offers_tomorrow_to_the_last_allowed_day(portal_as, member):
    html = portal_as(member).get("/tokens").content.decode()
    today = timezone.now().astimezone(UTC).date()
    first = (today + timedelta(days=1)).isoformat()
    last = (today + timedelta(days=EXPIRY_MAX_DAYS)).isoformat()
    assert f'name="expires_on" min="{first}" max="{last}" value="">' in html
    options = re.findall(r'<option value="(\w+)"( selected)?>', html)
    assert options == [
        ("never", " selected"),
        ("7", ""),
        ("30", ""),
        ("90", ""),
        ("365", ""),
        ("date", ""),
    ]


# ---- service tokens ----------------------------------------------------------------


def test_a_service_token_expires_when_chosen(portal_as, admin, project):
    before = timezone.now()
    response = portal_as(admin).post(
        SETTINGS, {"action": "token_create", "name": "ci", "role": "member", "expires": "7"}
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(project=project, kind=TokenKind.SERVICE, name="ci")
    assert before + timedelta(days=7) <= token.expires_at <= timezone.now() + timedelta(days=7)
    html = portal_as(admin).get(SETTINGS).content.decode()
    shown = token.expires_at.strftime("%Y-%m-%d %H:%M")
    assert re.search(rf'<td class="token-expires"><time [^>]+>{shown} UTC</time></td>', html)


def test_a_refused_service_token_expiry_is_shown_by_its_form(portal_as, admin, project):
    response = portal_as(admin).post(
        SETTINGS,
        {"action": "token_create", "name": "ci", "role": "viewer", "expires": "forever"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert (
        '<p class="error" role="alert" id="token-create-error">Not created: choose when the '
        "token expires: never, in 7 days, in 30 days, in 90 days, in a year, on a date</p>"
    ) in html
    assert re.search(
        r'<select id="service-token-expires" name="expires" aria-invalid="true"'
        r' aria-describedby="token-create-error">',
        html,
    )
    role = re.search(r'<select id="token-role" name="role">(.*?)</select>', html, re.S).group(1)
    assert re.findall(r'<option value="(\w+)" selected>', role) == ["viewer"]  # as typed
    assert not ApiToken.objects.filter(project=project, name="ci").exists()
