"""Token secrets: generation and hashing."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "krk_"  # noqa: S105 (a marker, not a secret)
TOKEN_RANDOM_BYTES = 32


def token_generate() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_RANDOM_BYTES)


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
