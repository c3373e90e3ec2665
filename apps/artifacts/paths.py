"""Validating the path a client gives an artifact.

The path is a name inside the run, kept as metadata and used only as a download's
filename. It never becomes a file path or part of a storage key, and it is still
refused when it looks like traversal in any encoding, so that no consumer (a
browser, the SDK writing a download, a user's shell) can be led outside a folder.
The path is taken literally, never decoded: encoded traversal is refused, not
translated.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

from apps.core.errors import Invalid

MAX_PATH_BYTES = 1024
# Percent-decoding stops changing a value after this many rounds, or the path is refused.
MAX_DECODE_ROUNDS = 8

_DRIVE = re.compile(r"^[A-Za-z]:")
# C0 and C1 control characters and DEL, plus the characters a segment may not hold.
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\\#;]")


def _invalid(message: str) -> Invalid:
    return Invalid(message, field="path", code="invalid_path")


def _segment_problem(segment: str) -> str | None:
    """Why one segment (in one decoding) is refused, or None."""
    if segment in {"", ".", ".."}:
        return "has an empty, '.' or '..' segment"
    if "/" in segment:
        return "has a segment that decodes to a '/'"
    if _FORBIDDEN.search(segment):
        return "contains '\\', '#', ';' or a control character"
    # Full-width dots and slashes become '.' and '/' under compatibility
    # normalisation, which some filesystems and tools apply.
    normalised = unicodedata.normalize("NFKC", segment)
    if normalised in {".", ".."} or "/" in normalised or "\\" in normalised:
        return "has a segment that normalises to '.', '..', '/' or '\\'"
    return None


def artifact_path_clean(value: object) -> str:
    """``value`` unchanged when it is an acceptable artifact path; otherwise Invalid
    with code ``invalid_path`` naming the rule it breaks."""
    if not isinstance(value, str):
        raise _invalid("path must be a string")
    if value == "":
        raise _invalid("path must not be empty")
    if len(value.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise _invalid(f"path must be at most {MAX_PATH_BYTES} bytes in UTF-8")
    if value.startswith("/") or _DRIVE.match(value):
        raise _invalid("path must be relative: no leading '/' or drive letter")
    for index, segment in enumerate(value.split("/")):
        for decoded in _decodings(segment):
            problem = _segment_problem(decoded)
            if problem is not None:
                raise _invalid(f"path {problem}")
            if index == 0 and _DRIVE.match(unicodedata.normalize("NFKC", decoded)):
                raise _invalid("path must be relative: no leading '/' or drive letter")
    return value


def _decodings(segment: str) -> list[str]:
    """``segment`` and each result of percent-decoding it again, until it stops
    changing. Refuses values still changing after MAX_DECODE_ROUNDS and bytes that
    are not UTF-8 (overlong encodings of '.' and '/' are a classic bypass)."""
    forms = [segment]
    for _ in range(MAX_DECODE_ROUNDS):
        current = forms[-1]
        if "%" not in current:
            return forms
        try:
            following = unquote(current, errors="strict")
        except UnicodeDecodeError:
            raise _invalid("path percent-encodes bytes that are not UTF-8") from None
        if following == current:
            return forms
        forms.append(following)
    raise _invalid(f"path is still percent-encoded after {MAX_DECODE_ROUNDS} decodings")
