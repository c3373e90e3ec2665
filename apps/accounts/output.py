"""How the caller looks on the wire (``GET /api/v1/me``): TypedDicts that the OpenAPI
schema documents (apps.core.schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, TypedDict

from apps.accounts.models import ApiToken, TokenKind, User
from apps.accounts.roles import Role


class MeUserOut(TypedDict):
    username: str
    email: str
    is_staff: bool


class MeTokenOut(TypedDict):
    name: str
    kind: Annotated[str, TokenKind]
    prefix: Annotated[str, "the token's first characters, to recognise it"]
    project: Annotated[str | None, "a service token's project (its slug); null for personal"]
    role: Annotated[str | None, "a service token's role: `viewer` or `member`"]
    expires_at: datetime | None


class MeOut(TypedDict):
    """Who the caller is."""

    user: Annotated[MeUserOut | None, "null for a service token: it names no person"]
    token: Annotated[MeTokenOut | None, "null when signed in with a session"]


def me_out(*, person: User | None, token: ApiToken | None) -> MeOut:
    return {
        "user": (
            {"username": person.username, "email": person.email, "is_staff": person.is_staff}
            if person is not None
            else None
        ),
        "token": (
            {
                "name": token.name,
                "kind": token.kind,
                "prefix": token.prefix,
                "project": token.project.slug if token.project else None,
                "role": Role(token.role).label if token.role else None,
                "expires_at": token.expires_at,
            }
            if token is not None
            else None
        ),
    }
