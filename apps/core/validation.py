"""Small checks every API input starts with."""

from __future__ import annotations

from typing import Any

from apps.core.errors import Invalid


def json_object(data: Any, allowed: set[str]) -> dict[str, Any]:
    """``data`` when it is a JSON object holding only ``allowed`` fields; otherwise
    Invalid naming the first unknown field and listing the allowed ones."""
    if not isinstance(data, dict):
        raise Invalid("request body must be a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise Invalid(
            f"unknown field {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}",
            field=unknown[0],
        )
    return data
