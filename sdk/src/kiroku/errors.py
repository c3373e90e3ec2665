"""Exceptions the SDK raises. Training code only sees them from ``kiroku.init()``
(a run that cannot start), from ``strict=True`` runs, and from the read API."""

from __future__ import annotations


class KirokuError(Exception):
    """Base class. ``status`` is the HTTP status when the server answered, ``code`` and
    ``field`` come from its error body (``{"error": {"code", "message", "field"}}``)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.field = field


class ConfigError(KirokuError):
    """Missing or malformed settings (no URL, no token, a bad mode...)."""


class AuthError(KirokuError):
    """The server refused the token (401) or the caller's role (403)."""


class NotFound(KirokuError):
    """The project or run does not exist, or the token may not read it (404)."""


class InvalidInput(KirokuError):
    """The server or the SDK refused input (400/409/413/422, or a bad log() call
    with ``strict=True``)."""


class IntegrityError(KirokuError):
    """Downloaded files do not match what the server registered (a size, a sha256, a
    manifest digest), or a manifest names a path outside the target folder."""


class Unreachable(KirokuError):
    """The server could not be reached or kept failing (network errors, 429, 5xx)."""


def error_for_status(status: int, message: str, code: str | None, field: str | None) -> KirokuError:
    """The exception class that fits an HTTP error status."""
    kind: type[KirokuError]
    if status in (401, 403):
        kind = AuthError
    elif status == 404:
        kind = NotFound
    elif status == 429 or status >= 500:
        kind = Unreachable
    else:
        kind = InvalidInput
    return kind(message, status=status, code=code, field=field)
