"""``Authorization: Bearer krk_...``: the one way the API takes a token.

A service token is the project's, but it answers to the person who made it: unless
its project lets service tokens outlive their creator
(``Project.service_tokens_outlive_creator``), it stops authenticating once its
creator has no role in the project (membership removed, account deactivated, or staff
status removed when that was their only role there), and starts again if they return.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from apps.accounts.models import ApiToken, User
from apps.accounts.tokens import TOKEN_PREFIX, token_hash

# last_used_at is written at most this often per token, so reads stay reads.
LAST_USED_RESOLUTION = timedelta(seconds=60)

CREATOR_LEFT = (
    "this service token's creator no longer has a role in project '{slug}', so it stopped "
    "working; a project admin can create a new token, or let service tokens outlive "
    "their creator in the project's settings"
)


def token_lookup(digest: str) -> ApiToken | None:
    """The token with this hash, its user and project, and ``creator_is_member``
    (whether its user has a membership in its project: False for a personal token),
    in one query."""
    # Through User's reverse relation, so accounts needs no import of projects.
    creator_is_member = User.objects.filter(
        pk=OuterRef("user_id"), memberships__project_id=OuterRef("project_id")
    )
    return (
        ApiToken.objects.select_related("user", "project")
        .annotate(creator_is_member=Exists(creator_is_member))
        .filter(token_hash=digest)
        .first()
    )


def service_token_creator_present(token: ApiToken, *, creator_is_member: bool) -> bool:
    """Whether a service token's creator still has a role in its project: an active
    account that is a member there or site staff."""
    creator = token.user
    return creator.is_active and (creator.is_staff or creator_is_member)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'")
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            raise exceptions.AuthenticationFailed("invalid token")
        digest = token_hash(secret)
        token = token_lookup(digest)
        # The lookup is by hash; the comparison is repeated in constant time so the
        # answer never depends on how many leading characters matched.
        if token is None or not hmac.compare_digest(token.token_hash, digest):
            raise exceptions.AuthenticationFailed("invalid token")
        now = timezone.now()
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("token has been revoked")
        if token.expires_at is not None and token.expires_at <= now:
            raise exceptions.AuthenticationFailed("token has expired")
        project = token.project
        if project is None:
            if not token.user.is_active:
                raise exceptions.AuthenticationFailed("invalid token")
        elif project.deleted_at is not None:
            raise exceptions.AuthenticationFailed("invalid token")
        elif not project.service_tokens_outlive_creator and not service_token_creator_present(
            token, creator_is_member=token.creator_is_member
        ):
            raise exceptions.AuthenticationFailed(CREATOR_LEFT.format(slug=project.slug))
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="kiroku"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes BearerTokenAuthentication (drf-spectacular finds
    extensions by their target class once this module is imported)."""

    target_class = BearerTokenAuthentication
    name = "bearer"

    def get_security_definition(self, auto_schema) -> dict:
        return {"type": "http", "scheme": "bearer"}
