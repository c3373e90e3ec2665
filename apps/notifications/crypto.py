"""Credentials at rest: Fernet with the keys from ``KIROKU_ENCRYPTION_KEY``.

The first key encrypts; every key decrypts, so an operator rotates by putting a new
key first and re-saving destinations (or leaving old ones readable by the old key).
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class CredentialsUnreadable(Exception):
    """The stored credentials were encrypted with a key Kiroku no longer has."""


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.encode("ascii")) for key in settings.KIROKU_ENCRYPTION_KEYS])


def encrypt(data: dict[str, Any]) -> str:
    return _fernet().encrypt(json.dumps(data, sort_keys=True).encode()).decode("ascii")


def decrypt(token: str) -> dict[str, Any]:
    try:
        return json.loads(_fernet().decrypt(token.encode("ascii")))
    except (InvalidToken, ValueError):
        raise CredentialsUnreadable(
            "the destination's credentials cannot be decrypted with KIROKU_ENCRYPTION_KEY; "
            "enter the token again"
        ) from None


def mask(secret: str) -> str:
    """What the portal shows of a token: its kind prefix and last four characters."""
    if len(secret) <= 8:
        return "••••"
    prefix = secret.split("-", 1)[0] + "-" if secret.startswith("xox") else ""
    return f"{prefix}••••{secret[-4:]}"
