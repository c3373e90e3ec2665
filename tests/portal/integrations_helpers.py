"""Shared by the integrations page tests."""

from __future__ import annotations

from apps.audit.models import AuditEvent

PAGE = "/projects/vision/integrations"
TOKEN = "xoxb-1111-2222-pageSecretToken"
HTMX = {"HTTP_HX_REQUEST": "true"}


def text(response) -> str:
    return response.content.decode()


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))
