"""Opaque, signed pagination cursors."""

from __future__ import annotations

from typing import Any

from django.core import signing

from apps.core.errors import Invalid

_SALT = "kiroku.cursor"


def cursor_encode(payload: Any) -> str:
    return signing.dumps(payload, salt=_SALT, compress=True)


def cursor_decode(cursor: str, *, field: str = "cursor") -> Any:
    try:
        return signing.loads(cursor, salt=_SALT)
    except signing.BadSignature:
        raise Invalid(
            "cursor is not one this server issued; use the `next` value as given", field=field
        ) from None
