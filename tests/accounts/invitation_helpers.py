"""What the invitation tests share: reading roles and audit events, comparing pages
without their CSRF tokens, and signing up through an invitation link."""

from __future__ import annotations

import re

from django.test import Client

from apps.audit.models import AuditEvent
from apps.projects.models import Membership, Role
from tests.accounts.conftest import PASSWORD

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
