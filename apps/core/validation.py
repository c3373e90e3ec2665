"""Small checks every API input starts with."""

from __future__ import annotations

from typing import Any

from apps.core.errors import Invalid


def json_object_clean(data: Any) -> dict[str, Any]:
    """``data`` when it is a JSON object (a dict); otherwise Invalid, the same message
    for every endpoint."""
    if not isinstance(data, dict):
        raise Invalid("request body must be a JSON object")
    return data


def json_object(data: Any, allowed: set[str]) -> dict[str, Any]:
    """``data`` when it is a JSON object holding only ``allowed`` fields; otherwise
    Invalid naming the first unknown field and listing the allowed ones."""
    body = json_object_clean(data)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise Invalid(
            f"unknown field {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}",
            field=unknown[0],
        )
    return body
