"""Who is acting: a user, optionally through a token, from some address."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apps.accounts.models import ApiToken, User


@dataclass(frozen=True)
class Principal:
    user: User | None
    token: ApiToken | None = None
    ip: str | None = None
    user_agent: str = ""
    # A visitor holding a share link (apps.collab.models.ShareLink): no user, no role
    # in any project; only the shared run's page answers them.
    share_link: Any = None

    @classmethod
    def from_request(cls, request) -> Principal:
        user = request.user if request.user.is_authenticated else None
        token = request.auth if isinstance(request.auth, ApiToken) else None
        meta = request.META
        return cls(
            user=user,
            token=token,
            ip=meta.get("REMOTE_ADDR") or None,
            user_agent=(meta.get("HTTP_USER_AGENT") or "")[:500],
        )

    @classmethod
    def system(cls) -> Principal:
        return cls(user=None)

    @classmethod
    def for_share_link(cls, link: Any, request) -> Principal:
        meta = request.META
        return cls(
            user=None,
            share_link=link,
            ip=meta.get("REMOTE_ADDR") or None,
            user_agent=(meta.get("HTTP_USER_AGENT") or "")[:500],
        )

    @property
    def is_system(self) -> bool:
        return self.user is None and self.share_link is None

    @property
    def is_staff(self) -> bool:
        # Site staff act as admins everywhere, but only as themselves: a service
        # token created by a staff member stays confined to its project and role.
        return bool(self.user and self.user.is_staff and self.service_token is None)

    @property
    def service_token(self) -> ApiToken | None:
        if self.token is not None and self.token.kind == "service":
            return self.token
        return None
