"""``Authorization: Bearer krk_...``: the one way the API takes a token."""

from __future__ import annotations

import hmac
from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from apps.accounts.models import ApiToken
from apps.accounts.tokens import TOKEN_PREFIX, token_hash

# last_used_at is written at most this often per token, so reads stay reads.
LAST_USED_RESOLUTION = timedelta(seconds=60)


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
        token = ApiToken.objects.select_related("user", "project").filter(token_hash=digest).first()
        # The lookup is by hash; the comparison is repeated in constant time so the
        # answer never depends on how many leading characters matched.
        if token is None or not hmac.compare_digest(token.token_hash, digest):
            raise exceptions.AuthenticationFailed("invalid token")
        now = timezone.now()
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("token has been revoked")
        if token.expires_at is not None and token.expires_at <= now:
            raise exceptions.AuthenticationFailed("token has expired")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("invalid token")
        if token.project is not None and token.project.deleted_at is not None:
            raise exceptions.AuthenticationFailed("invalid token")
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
