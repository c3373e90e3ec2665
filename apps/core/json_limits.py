"""What a JSON request body may hold beyond being well-formed JSON.

- Arrays and objects nest at most ``MAX_DEPTH`` levels (the body itself is level 1).
  Deeper documents would exhaust the stack of whatever walks them later (the parser,
  the validators, the JSON encoder that stores or echoes them).
- Integer literals have at most ``MAX_INTEGER_DIGITS`` digits: Python's limit on
  reading an integer from text, past which ``json.loads`` cannot parse the body at all.
- Strings and keys hold no NUL and no lone surrogate (``"\\ud800"`` with no partner):
  neither PostgreSQL nor SQLite can store them, and no real name or value holds one.

Each refusal is an ``Invalid`` whose ``field`` is the path of the value at fault, the
way every other error names fields (``params.lr``, ``metrics[3].key``, ``[0]`` for
an item of a top-level array), and whose message states the limit.
"""

from __future__ import annotations

import json
import re
from typing import Any

from apps.core.errors import Invalid

MAX_DEPTH = 64
# Python's default limit on the digits of an integer read from text
# (sys.int_info.default_max_str_digits); json.loads fails on longer literals.
MAX_INTEGER_DIGITS = 4300

TOO_DEEP = (
    f"arrays and objects nest deeper than {MAX_DEPTH} levels here; "
    f"a request body nests at most {MAX_DEPTH} levels"
)
TOO_LONG_INTEGER = (
    f"integer has more than {MAX_INTEGER_DIGITS} digits; integers have at most "
    f"{MAX_INTEGER_DIGITS} digits (send longer numbers as strings)"
)
HAS_NUL = "text must not contain NUL (\\u0000) characters"

_CONTAINERS = frozenset((dict, list))
_SURROGATE = re.compile("[\ud800-\udfff]")
# What the locator stops at: a whole string (so that brackets and commas inside it are
# not counted), or a bracket. Everything between is scalars, commas, colons, space.
_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)
# An integer literal of more than MAX_INTEGER_DIGITS digits: not part of a fraction or
# an exponent (those make a float, which any length of digits can spell).
_LONG_INTEGER = re.compile(rf"(?<![0-9.eE+-])-?[0-9]{{{MAX_INTEGER_DIGITS + 1},}}(?![0-9.eE])")
# The locator reads at most this many strings and brackets (about 0.2 s), so that an
# error answer costs no more than a bounded walk of any body.
_LOCATE_BUDGET = 200_000


def nesting_within_limit(data: Any) -> bool:
    """Whether ``data`` (parsed JSON) nests at most ``MAX_DEPTH`` levels. Visits the
    containers level by level; a container of scalars costs one C-level scan, so a
    batch of 10,000 points costs about a third of parsing it."""
    level = [data] if type(data) in _CONTAINERS else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return False
        deeper: list[Any] = []
        for value in level:
            items = value.values() if type(value) is dict else value
            if not _CONTAINERS.isdisjoint(map(type, items)):
                deeper.extend(item for item in items if type(item) in _CONTAINERS)
        level = deeper
    return True


def problem_locate(text: str) -> Invalid | None:
    """The first container nested past ``MAX_DEPTH`` or integer literal longer than
    ``MAX_INTEGER_DIGITS`` in ``text``, in document order, as the Invalid to raise;
    None when there is neither, the text stops being JSON before one, or it is not
    found within a bounded number of steps. Reads the text string by string and
    bracket by bracket (the scalars between are skipped whole): for error answers
    only, never on the way to a success."""
    # Each frame is [is_object, key or index, expecting a key].
    frames: list[list[Any]] = []
    position = 0
    for _ in range(_LOCATE_BUDGET):
        found = _STRUCTURE.search(text, position)
        end = found.start() if found is not None else len(text)
        if (long := _LONG_INTEGER.search(text, position, end)) is not None:
            if frames and not frames[-1][0]:
                frames[-1][1] += text.count(",", position, long.start())
            return Invalid(TOO_LONG_INTEGER, field=_path(frames))
        if frames and text.count(",", position, end):
            frame = frames[-1]
            if frame[0]:
                frame[2] = True
            else:
                frame[1] += text.count(",", position, end)
        if found is None:
            return None
        position = found.end()
        mark = found.group()
        if mark in "[{":
            if len(frames) >= MAX_DEPTH:
                return Invalid(TOO_DEEP, field=_path(frames))
            frames.append([mark == "{", 0, mark == "{"])
        elif mark in "]}":
            if not frames:
                return None
            frames.pop()
        elif frames and frames[-1][0] and frames[-1][2]:
            frames[-1][1] = _key_text(mark)
            frames[-1][2] = False
    return None


def _key_text(token: str) -> str:
    try:
        text: str = json.loads(token)
        return text
    except ValueError:
        return token[1:-1]


def _path(frames: list[list[Any]]) -> str | None:
    path = ""
    for is_object, name, _ in frames:
        path = (f"{path}.{name}" if path else str(name)) if is_object else f"{path}[{name}]"
    return field_name(path)


def _escaped(match: re.Match[str] | str) -> str:
    char = match if isinstance(match, str) else match.group()
    return f"\\u{ord(char):04x}"


def field_name(path: str) -> str | None:
    """``path`` as an error's ``field``: None when empty, lone surrogates written as
    ``\\udxxx`` escapes (the answer itself must be encodable)."""
    if not path:
        return None
    return path if path.isascii() else _SURROGATE.sub(_escaped, path)


def text_refuse(value: Any, where: str = "") -> None:
    """Raise Invalid naming the first key or string (in document order) that holds a
    NUL or a lone surrogate. ``value`` nests at most ``MAX_DEPTH`` levels."""
    if isinstance(value, str):
        if "\x00" in value:
            raise Invalid(HAS_NUL, field=field_name(where))
        if not value.isascii() and (found := _SURROGATE.search(value)) is not None:
            raise Invalid(
                f"text holds a lone surrogate ({_escaped(found.group())}), which cannot be "
                "stored; send whole characters (a surrogate pair for one above U+FFFF)",
                field=field_name(where),
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            text_refuse(key, name)
            text_refuse(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            text_refuse(item, f"{where}[{index}]")
