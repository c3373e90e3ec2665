"""Who is acting: a user, optionally through a token, from some address.

A service token is the project's, not its creator's: its principal carries the
creator as ``user`` (for the audit trail's "via whose token"), but it never acts as
that user. Whether something is "mine" is decided by ``Principal.owns`` only, and
the person acting is ``Principal.person``; code outside this module reads
``principal.user`` only to record attribution, never to grant anything.
"""

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
        person = self.person
        return bool(person and person.is_staff)

    @property
    def service_token(self) -> ApiToken | None:
        if self.token is not None and self.token.kind == "service":
            return self.token
        return None

    @property
    def person(self) -> User | None:
        """The person acting as themselves: the user of a session or a personal token.
        None for a service token (it acts for its project, never as its creator),
        for the system and for a share-link visitor."""
        if self.service_token is not None or self.share_link is not None:
            return None
        return self.user

    @property
    def label(self) -> str:
        """How rows this principal writes name their maker: the person's username, or
        the service token's name marked as one (``ci-bot (service token)``)."""
        token = self.service_token
        if token is not None:
            return service_token_label(token)
        if self.user is not None:
            return self.user.username
        return "system" if self.is_system else ""

    def owns(self, *, user_id: int | None = None, token_id: int | None = None) -> bool:
        """Whether a row made by the person ``user_id`` or by the service token
        ``token_id`` is this principal's own. A person owns only what they made as
        themselves, never what one of their service tokens made; a service token owns
        only what it made itself, never what its creator made. A row with no known
        maker (both None) is nobody's."""
        token = self.service_token
        if token is not None:
            return token_id is not None and token_id == token.pk
        person = self.person
        return person is not None and token_id is None and user_id == person.pk


def service_token_label(token: ApiToken) -> str:
    """A service token's name as a maker of comments, links and comparisons."""
    return f"{token.name} (service token)"
