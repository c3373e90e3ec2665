"""Invitation fixtures, and the portal's signed-in clients for the pages tested here."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import ProjectFactory
from tests.portal.conftest import persona, portal_as  # noqa: F401 (fixtures)

PASSWORD = "a long enough passphrase 42"


@pytest.fixture
def speech(db):
    return ProjectFactory(slug="speech", name="Speech")


def link_re() -> re.Pattern:
    return re.compile(re.escape(settings.KIROKU_BASE_URL) + r"/invite/([A-Za-z0-9_-]{43})\n")


def token_in(message) -> str:
    [token] = link_re().findall(message.body)
    return token


@pytest.fixture
def invite(staff, django_capture_on_commit_callbacks):
    """``invite(email, {slug: role})`` as staff through the page; returns the response.
    The email goes out on commit, as in production."""
    client = Client()
    client.force_login(staff)

    def send(email: str, roles: dict[str, str]):
        body = {"action": "create", "email": email}
        body.update({f"role-{slug}": role for slug, role in roles.items()})
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/invites", body)

    send.client = client
    return send


@pytest.fixture
def token(invite, project, speech, mailoutbox) -> str:
    """A pending invitation of dana@example.com: admin in vision, viewer in speech."""
    response = invite("dana@example.com", {"vision": "admin", "speech": "viewer"})
    assert response.status_code == 302
    return token_in(mailoutbox[-1])
