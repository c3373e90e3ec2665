"""Portal fixtures: a signed-in browser session (Django's test client) per persona."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def portal_as():
    """``portal_as(user)``: a client signed in as ``user``; ``portal_as(None)``: anonymous."""

    def build(user) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return build


@pytest.fixture
def persona(request, admin, member, viewer, outsider, staff):
    """A persona by name, for parametrised permission tests."""
    return {
        "admin": admin,
        "member": member,
        "viewer": viewer,
        "outsider": outsider,
        "staff": staff,
        "anonymous": None,
    }
