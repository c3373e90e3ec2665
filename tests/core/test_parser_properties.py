"""Properties of the JSON request parser (apps/core/parsers.py): whatever the bytes, it
answers what ``json.loads`` reads, or refuses with a 4xx error (Invalid,
PayloadTooLarge, UnsupportedEncoding), never anything else; it refuses exactly the
documents past the limits of apps/core/json_limits.py; compression is transparent."""

from __future__ import annotations

import gzip
import io
import json
import math
import zlib
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from apps.core.errors import Invalid, PayloadTooLarge, UnsupportedEncoding
from apps.core.json_limits import MAX_DEPTH, MAX_INTEGER_DIGITS
from apps.core.parsers import StrictJSONParser

SETTINGS = settings(max_examples=300, derandomize=True, database=None, deadline=None)
REFUSALS = (Invalid, PayloadTooLarge, UnsupportedEncoding)


def parse(raw: bytes, *, encoding: str | None = None) -> Any:
    meta = {"CONTENT_LENGTH": str(len(raw))}
    if encoding is not None:
        meta["HTTP_CONTENT_ENCODING"] = encoding
    context = {"request": SimpleNamespace(META=meta)}
    return StrictJSONParser().parse(io.BytesIO(raw), parser_context=context)


def outcome(raw: bytes, **kwargs) -> tuple[str, Any]:
    """("ok", value) or ("refused", (error class, message)); anything else raises."""
    try:
        return "ok", parse(raw, **kwargs)
    except REFUSALS as refused:
        assert isinstance(refused.message, str) and refused.message
        return "refused", (type(refused), refused.message)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _storable(value: Any) -> bool:
    """No NUL and no lone surrogate in any string or key."""
    if isinstance(value, str):
        return "\x00" not in value and not any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(map(_storable, value))
    return True


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def acceptable(raw: bytes) -> tuple[bool, Any]:
    """What the documented rules say of ``raw``: (True, the value json.loads reads) for
    a body the parser must accept, (False, None) for one it must refuse."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        # Not JSON, not UTF-8, a bare NaN/Infinity, or an integer of over 4300 digits.
        return False, None
    if _depth(value) > MAX_DEPTH or not _storable(value):
        return False, None
    return True, value


def same(a: Any, b: Any) -> bool:
    """Equal, NaN-free JSON values of the same types (so 1 and 1.0 differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


# JSON-looking bytes: fragments of JSON text in any order, so parsing gets past the
# first character most of the time.
FRAGMENTS = st.sampled_from(
    [
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b'"a"',
        b'"\\u0000"',
        b'"\\ud800"',
        b'"\\udc00x"',
        b'"\\ud83d\\ude00"',
        b"0",
        b"-1",
        b"1.5e3",
        b"1e400",
        b"NaN",
        b"-Infinity",
        b"true",
        b"null",
        b" ",
        b"\n",
        b"\xff",
        b"\xc3\xa9",
        b'"',
        b"\\",
        b"9" * 4301,
    ]
)
json_ish = st.lists(FRAGMENTS, max_size=30).map(b"".join)

strings = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from("\x00\ud800\udfff\U0001f600é"),
    ),
    max_size=12,
)
documents = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | strings,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(strings, children, max_size=4)
    ),
    max_leaves=20,
)


def nested(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@SETTINGS
@given(raw=st.one_of(st.binary(max_size=64), json_ish))
@example(raw=nested(MAX_DEPTH))
@example(raw=nested(MAX_DEPTH + 1))
@example(raw=nested(100_000))
@example(raw=b"9" * MAX_INTEGER_DIGITS)
@example(raw=b"9" * (MAX_INTEGER_DIGITS + 1))
@example(raw=b'{"a": "\\ud800"}')
@example(raw=b'["\\u0000"]')
def test_any_bytes_are_read_as_json_loads_reads_them_or_refused(raw):
    accept, value = acceptable(raw)
    result, got = outcome(raw)
    if accept:
        assert result == "ok" and same(got, value)
    else:
        assert result == "refused" and got[0] is Invalid


@SETTINGS
@given(document=documents, ascii_only=st.booleans())
def test_a_document_comes_back_as_it_was_sent_when_it_keeps_the_limits(document, ascii_only):
    raw = json.dumps(document, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    result, got = outcome(raw)
    if _storable(document) and _depth(document) <= MAX_DEPTH:
        assert result == "ok" and same(got, document)
    else:
        assert result == "refused" and got[0] is Invalid


COMPRESSORS = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
}


@settings(SETTINGS, max_examples=150)
@given(
    raw=st.one_of(st.binary(max_size=64), json_ish), encoding=st.sampled_from(sorted(COMPRESSORS))
)
@example(raw=nested(MAX_DEPTH + 1), encoding="gzip")
def test_a_compressed_body_reads_as_the_same_body_sent_plain(raw, encoding):
    assert outcome(COMPRESSORS[encoding](raw), encoding=encoding) == outcome(raw)


@SETTINGS
@given(raw=st.binary(max_size=64), encoding=st.sampled_from(sorted(COMPRESSORS)))
def test_a_body_that_is_not_what_its_encoding_says_is_refused(raw, encoding):
    result, got = outcome(raw, encoding=encoding)
    if result == "refused":
        assert got[0] is Invalid
    else:
        # Random bytes can be valid compressed data; then they read as what they hold.
        plain = zlib.decompress(raw, 16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS)
        assert outcome(plain) == (result, got)


@SETTINGS
@given(encoding=st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=12))
def test_any_other_encoding_is_refused_as_unsupported(encoding):
    if encoding in {"identity", *COMPRESSORS}:
        return
    with pytest.raises(UnsupportedEncoding):
        parse(b"{}", encoding=encoding)
