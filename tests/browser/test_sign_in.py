"""Signing in through the real form."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import give_password, sign_in

pytestmark = pytest.mark.browser


def test_signing_in_lands_on_the_projects_list(page, member, project, shot):
    give_password(member)
    sign_in(page, member.username)
    page.wait_for_url("**/projects")
    expect(page.get_by_role("heading", level=1)).to_have_text("Projects")
    expect(page.locator(".cards h2 a")).to_have_text(["Vision"])
    shot(page, "projects")


def test_a_wrong_password_shows_the_error(page, member, project, shot):
    give_password(member)
    sign_in(page, member.username, "not the password")
    expect(page.get_by_role("alert")).to_have_text(
        "Your username and password didn't match. Try again."
    )
    assert page.url.endswith("/login")
    shot(page, "sign-in-error")
