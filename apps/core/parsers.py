"""JSON request parsing with Kiroku's limits and messages.

A body may come compressed (``Content-Encoding: gzip`` or ``deflate``); its limit is
its inflated size, checked while inflating, so a small body that inflates to
gigabytes (a "zip bomb") costs at most the limit. Any other encoding is a 415.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import IO, Any

from rest_framework.parsers import BaseParser

from apps.core.errors import Invalid, PayloadTooLarge, UnsupportedEncoding
from apps.core.json_limits import (
    TOO_DEEP,
    TOO_LONG_INTEGER,
    nesting_within_limit,
    problem_locate,
    text_refuse,
)

# The largest request body the API reads (the ingestion limit). Enforced while
# reading, before any parsing, so a huge body costs at most this much memory.
MAX_BODY_BYTES = 4 * 1024 * 1024
# The most compressed bytes read: the limit plus deflate's worst-case overhead on
# incompressible data (5 bytes per 16 KiB block) and room for headers.
MAX_COMPRESSED_BYTES = MAX_BODY_BYTES + 64 * 1024
# zlib window bits per Content-Encoding: the gzip wrapper, or the zlib wrapper that
# HTTP's "deflate" names.
_ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_CHUNK = 64 * 1024
_TOO_LARGE = (
    f"request body is larger than {MAX_BODY_BYTES} bytes (4 MiB); split the batch into smaller ones"
)
_INFLATES_TOO_LARGE = (
    f"request body inflates to more than {MAX_BODY_BYTES} bytes (4 MiB); split the batch "
    "into smaller ones"
)


def _reject_constant(name: str) -> Any:
    raise Invalid(
        f"bare {name} is not valid JSON; send non-finite numbers as the strings "
        '"NaN", "Infinity" or "-Infinity"',
        code="malformed_json",
    )


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        # Any JSON value, not only an object: each endpoint checks the shape it needs
        # (apps.core.validation), with Kiroku's message rather than DRF's.
        if stream is None:
            return {}
        request = (parser_context or {}).get("request")
        meta = request.META if request is not None else {}
        encoding = (meta.get("HTTP_CONTENT_ENCODING") or "identity").strip().lower()
        raw = read_body(stream, encoding=encoding, declared=_declared_length(meta))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid("request body is not UTF-8", code="malformed_json") from None
        return json_body_parse(text)


def json_body_parse(text: str) -> Any:
    """``text`` parsed as JSON within apps.core.json_limits: raises Invalid for
    malformed JSON (naming the line and column), bare NaN/Infinity, nesting past
    MAX_DEPTH, integers past MAX_INTEGER_DIGITS, and NUL or lone surrogates in text
    (each naming the field)."""
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise Invalid(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            code="malformed_json",
        ) from None
    except RecursionError:
        raise problem_locate(text) or Invalid(TOO_DEEP) from None
    except ValueError:
        # An integer literal longer than int() reads.
        raise problem_locate(text) or Invalid(TOO_LONG_INTEGER) from None
    if not nesting_within_limit(data):
        raise problem_locate(text) or Invalid(TOO_DEEP)
    # Only an escape can put NUL or a surrogate in parsed text (raw ones are not UTF-8).
    if "\\u0000" in text or "\\ud" in text or "\\uD" in text:
        text_refuse(data)
    return data


def _declared_length(meta: Any) -> int | None:
    try:
        return int(meta.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def read_body(stream: Any, *, encoding: str, declared: int | None) -> bytes:
    """The request body, inflated when ``encoding`` is ``gzip`` or ``deflate``.

    Raises PayloadTooLarge when the declared Content-Length is over the limit (before
    reading anything), when the plain body, the compressed bytes or the inflated
    bytes pass it (as soon as they do); UnsupportedEncoding (415) for any other
    encoding; Invalid (``malformed_body``) for compressed data that is corrupt,
    truncated, or followed by more data."""
    if encoding == "identity":
        if declared is not None and declared > MAX_BODY_BYTES:
            raise PayloadTooLarge(_TOO_LARGE)
        raw: bytes = stream.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise PayloadTooLarge(_TOO_LARGE)
        return raw
    wbits = _ENCODINGS.get(encoding)
    if wbits is None:
        raise UnsupportedEncoding(
            f"Content-Encoding {encoding!r} is not supported; send the body as is, gzip or deflate"
        )
    if declared is not None and declared > MAX_COMPRESSED_BYTES:
        raise PayloadTooLarge(_TOO_LARGE)
    return _inflate(stream, wbits=wbits, name=encoding)


def _inflate(stream: Any, *, wbits: int, name: str) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out = bytearray()
    read = 0
    while chunk := stream.read(_CHUNK):
        read += len(chunk)
        if read > MAX_COMPRESSED_BYTES:
            raise PayloadTooLarge(_TOO_LARGE)
        if inflater.eof:
            raise Invalid(f"data follows the end of the {name} body", code="malformed_body")
        try:
            # At most one byte past the limit: output that fills max_length means
            # more was left, and the body is refused without inflating the rest.
            out += inflater.decompress(chunk, MAX_BODY_BYTES + 1 - len(out))
        except zlib.error:
            raise Invalid(f"request body is not valid {name} data", code="malformed_body") from None
        if len(out) > MAX_BODY_BYTES:
            raise PayloadTooLarge(_INFLATES_TOO_LARGE)
        if inflater.unused_data:
            raise Invalid(f"data follows the end of the {name} body", code="malformed_body")
    if not inflater.eof:
        raise Invalid(f"the {name} body is truncated", code="malformed_body")
    return bytes(out)
