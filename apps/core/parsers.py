"""JSON request parsing with Kiroku's limits and messages."""

from __future__ import annotations

import json
from typing import Any

from rest_framework.parsers import BaseParser

from apps.core.errors import Invalid, PayloadTooLarge

# The largest request body the API reads (the ingestion limit). Enforced while
# reading, before any parsing, so a huge body costs at most this much memory.
MAX_BODY_BYTES = 4 * 1024 * 1024


def _reject_constant(name: str) -> Any:
    raise Invalid(
        f"bare {name} is not valid JSON; send non-finite numbers as the strings "
        '"NaN", "Infinity" or "-Infinity"',
        code="malformed_json",
    )


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:
            return {}
        raw = stream.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise PayloadTooLarge(
                f"request body is larger than {MAX_BODY_BYTES} bytes (4 MiB); "
                "split the batch into smaller ones"
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid("request body is not UTF-8", code="malformed_json") from None
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            raise Invalid(
                f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                code="malformed_json",
            ) from None
        if "\\u0000" in text:
            nul_refuse(data)
        return data


def nul_refuse(value: Any, where: str = "") -> None:
    """Refuse NUL characters anywhere in keys or strings: databases cannot store them
    in text, and no legitimate name or value contains one."""
    if isinstance(value, str):
        if "\x00" in value:
            raise Invalid("text must not contain NUL (\\u0000) characters", field=where or None)
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            nul_refuse(key, name)
            nul_refuse(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            nul_refuse(item, f"{where}[{index}]")
