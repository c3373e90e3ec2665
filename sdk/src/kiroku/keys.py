"""The server's input rules, checked on the client so bad input is caught at ``log()``.

Mirrors ``apps.runs.validation`` and ``apps.runs.limits`` on the server; the table in
``tests/fixtures/keys.json`` is checked against both.
"""

from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from typing import Any

# Server limits (apps/runs/limits.py).
MAX_METRICS_PER_BATCH = 10_000
MAX_PARAMS_PER_BATCH = 1_000
MAX_TAGS_PER_BATCH = 1_000
MAX_SUMMARY_PER_BATCH = 1_000
MAX_DATASETS_PER_BATCH = 100
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6_000
MAX_TAG_VALUE_LENGTH = 5_000
MAX_SUMMARY_VALUE_BYTES = 64 * 1024
MIN_STEP = -(2**63)
MAX_STEP = 2**63 - 1
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
RUN_ID_RE = re.compile(r"^[0-9a-f]{32}$")

_KEY_RE = re.compile(r"^[\w\-. /]+$")

NAN = "NaN"
POS_INF = "Infinity"
NEG_INF = "-Infinity"
_NON_FINITE_IN = {NAN: math.nan, POS_INF: math.inf, NEG_INF: -math.inf}


def key_problem(key: Any) -> str | None:
    """Why the server would refuse ``key`` (already NFC-normalised), or None."""
    if not isinstance(key, str):
        return "key must be a string"
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        return f"key must be 1 to {MAX_KEY_LENGTH} characters"
    if not _KEY_RE.fullmatch(key):
        return "key may contain only letters, digits, '_', '-', '.', '/' and spaces"
    if ".." in key or key.startswith("/"):
        return "key must not contain '..' or start with '/'"
    return None


def key_clean(key: Any) -> tuple[str | None, str | None]:
    """``(normalised_key, None)`` for a valid key, ``(None, reason)`` for one the server
    would refuse. Keys are NFC-normalised first, as the server does."""
    if not isinstance(key, str):
        return None, "key must be a string"
    normalised = unicodedata.normalize("NFC", key)
    problem = key_problem(normalised)
    return (None, problem) if problem else (normalised, None)


def number_encode(value: Any) -> float | int | str | None:
    """A metric value as it travels: finite numbers as they are, NaN and infinities as
    the strings "NaN", "Infinity", "-Infinity". None when ``value`` is not a number
    (booleans are not numbers, as on the server). Accepts numpy/torch scalars."""
    kind = type(value)
    if kind is float:
        if value != value:  # NaN; faster than math.isnan for the hot path
            return NAN
        if value in (math.inf, -math.inf):
            return POS_INF if value > 0 else NEG_INF
        finite: float = value
        return finite
    if kind is int:
        return value if -(2**53) <= value <= 2**53 else _float_or_none(value)
    if kind is bool or value is None or isinstance(value, str | bytes):
        return None
    # numpy scalars, 0-d arrays and tensors: anything that knows its float value.
    item = getattr(value, "item", None)
    if callable(item):
        try:
            value = item()
        except (TypeError, ValueError, RuntimeError):
            return None
        return None if type(value) is bool else number_encode(value)
    if isinstance(value, int | float):  # int/float subclasses (e.g. numpy.float64)
        return number_encode(float(value))
    return None


def _float_or_none(value: int) -> float | None:
    try:
        return float(value)
    except OverflowError:
        return None


def number_decode(value: Any) -> float:
    """The server's encoding back to a Python float ("NaN" → nan...)."""
    if isinstance(value, str):
        return _NON_FINITE_IN[value]
    return float(value)


def text_value(value: Any, *, max_length: int) -> tuple[str | None, str | None]:
    """A param or tag value as the server stores it (text), or ``(None, reason)``.
    Mirrors ``value_as_text``: str as is, scalars via ``str``, lists/dicts as JSON."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool | int | float) or value is None:
        text = str(value)
    elif isinstance(value, list | tuple | dict):
        try:
            text = json.dumps(jsonable(value), separators=(",", ":"), sort_keys=True)
        except (TypeError, ValueError) as exc:
            return None, f"value is not JSON-serialisable ({exc})"
    else:
        item = getattr(value, "item", None)
        if callable(item):  # numpy/torch scalars
            try:
                return text_value(item(), max_length=max_length)
            except (TypeError, ValueError, RuntimeError):
                pass
        text = str(value)
    if len(text) > max_length:
        return None, f"value is longer than {max_length} characters"
    return text, None


def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats as the server's strings and numpy/torch
    scalars as plain numbers, so it serialises as strict JSON. Raises TypeError
    for what JSON cannot carry."""
    if isinstance(value, float):
        encoded = number_encode(value)
        return encoded
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    item = getattr(value, "item", None)
    if callable(item):
        return jsonable(item())
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return jsonable(tolist())
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def summary_value(value: Any) -> tuple[Any, str | None]:
    """A summary value as JSON (within the server's size limit), or ``(None, reason)``."""
    try:
        clean = jsonable(value)
        size = len(json.dumps(clean))
    except (TypeError, ValueError) as exc:
        return None, str(exc)
    if size > MAX_SUMMARY_VALUE_BYTES:
        return None, f"value is {size} bytes of JSON; at most {MAX_SUMMARY_VALUE_BYTES}"
    return clean, None


def as_mapping(value: Any) -> dict[str, Any]:
    """A dict from a mapping or an ``argparse.Namespace``-like object (config input)."""
    if isinstance(value, dict):
        return value
    if hasattr(value, "items"):
        return dict(value.items())
    if hasattr(value, "__dict__"):
        return dict(vars(value))
    raise TypeError(f"config must be a mapping, not {type(value).__name__}")


def flatten(mapping: Any, prefix: str = "") -> dict[str, Any]:
    """Nested config dicts as dotted keys (``{"opt": {"lr": 1}}`` → ``{"opt.lr": 1}``),
    so each value is a searchable param. An empty dict stays a value (``"{}"``)."""
    flat: dict[str, Any] = {}
    for key, value in as_mapping(mapping).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def dataset_uri(path: str | os.PathLike[str]) -> str:
    """A dataset's uri as recorded: a URL as given, a local path made absolute (the
    form the background hasher reports, so the uri does not change mid-run)."""
    text = os.fspath(path)
    return text if "://" in text else os.path.abspath(text)
