"""What the readers of ``kiroku ci report``'s input files share: reading a file (bytes,
UTF-8 text, a JSON or YAML document), walking a nested object, the server's rules for
keys and steps, and :data:`Points`, the shape metrics are read into. Every problem
raises :class:`~kiroku.errors.InvalidInput` with a message naming the file (as the
caller spelled it) and the line or key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from kiroku.errors import InvalidInput
from kiroku.keys import MAX_STEP, MIN_STEP, key_clean

# Each metric key's ``(step, value)`` points, in file order.
Points = dict[str, list[tuple[int, float]]]


def read_bytes(path: str, what: str) -> bytes:
    """The content of the file ``what`` ("metrics file"...) at ``path``. Raises
    InvalidInput when it is missing, a directory, unreadable, or empty."""
    if os.path.isdir(path):
        raise InvalidInput(f"{what} {path!r} is a directory")
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        raise InvalidInput(f"{what} {path!r} does not exist") from None
    except OSError as exc:
        raise InvalidInput(f"{what} {path!r} cannot be read: {exc.strerror or exc}") from None
    if not data.strip():
        raise InvalidInput(f"{what} {path!r} is empty")
    return data


def read_text(path: str, what: str) -> str:
    """:func:`read_bytes` decoded as UTF-8 (a byte-order mark, as Windows tools write
    it, is dropped). Raises InvalidInput for text in another encoding."""
    try:
        return read_bytes(path, what).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{what} {path!r} is not UTF-8 (byte {exc.start})") from None


def load_document(path: str, text: str, suffix: str) -> Any:
    """``text`` parsed as JSON (``suffix`` ``.json``) or else as YAML. Raises InvalidInput
    naming the line and column of a syntax error, or when YAML is read without PyYAML."""
    if suffix == ".json":
        try:
            # Python's json also reads the NaN/Infinity literals that json.dump writes.
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"{path} line {exc.lineno} column {exc.colno}: invalid JSON ({exc.msg})"
            ) from None
    try:
        import yaml
    except ImportError:
        raise InvalidInput("reading YAML needs PyYAML: pip install 'kiroku[ci]'") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path} line {mark.line + 1} column {mark.column + 1}" if mark else path
        raise InvalidInput(
            f"{where}: invalid YAML ({getattr(exc, 'problem', None) or exc})"
        ) from None


def require_object(path: str, doc: Any) -> None:
    """Raises InvalidInput unless the document ``doc`` of ``path`` is an object."""
    if not isinstance(doc, dict):
        raise InvalidInput(f"{path}: the top level is {kind_of(doc)}; expected an object")


def flat_items(
    label: str, mapping: dict[Any, Any], prefix: str = "", *, keep_empty: bool = False
) -> Iterator[tuple[str, Any]]:
    """``(joined_key, leaf)`` for every leaf of a nested object, in document order."""
    for raw, value in mapping.items():
        # YAML reads `3:` as an integer key; JSON would have it as the string "3".
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise InvalidInput(f"{label}: key {raw!r} is not a string")
        key = f"{prefix}{raw}"
        if isinstance(value, dict) and (value or not keep_empty):
            yield from flat_items(label, value, f"{key}/", keep_empty=keep_empty)
        else:
            yield key, value


def kind_of(value: Any) -> str:
    """What ``value`` is, as a message says it: ``null``, ``a number``, ``a list``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    kinds: dict[type[Any], str] = {str: "a string", list: "a list", dict: "an object"}
    return kinds.get(type(value), f"a {type(value).__name__}")


def checked_step(where: str, step: int) -> int:
    """``step``; InvalidInput when it is outside the steps the server accepts."""
    if not MIN_STEP <= step <= MAX_STEP:
        raise InvalidInput(f"{where}: step {step} is out of range")
    return step


def checked_key(where: str, key: str) -> str:
    """``key`` NFC-normalised, as the server stores it; InvalidInput when it refuses it."""
    clean, problem = key_clean(key)
    if clean is None:
        raise InvalidInput(f"{where}: bad key {key!r}: {problem}")
    return clean
