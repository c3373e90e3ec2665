"""Reading integer ids and numbers from text that clients send (paths, query
parameters, form fields).

ASCII digits only: ``str.isdigit()`` and ``int()`` also accept other scripts' digits
and superscripts (Arabic-Indic one, U+0661, is 1 to ``int()``; ``"²"`` passes
``isdigit()`` and then ``int()`` raises), and ``int()`` accepts spaces, ``+`` and ``_``
as well.
"""

from __future__ import annotations

import re

# A database id: a positive bigint, written in at most 18 digits so it always fits.
_ID = re.compile(r"[0-9]{1,18}")
_INTEGER = re.compile(r"-?[0-9]+")


def id_parse(value: object) -> int | None:
    """``value`` as a database id when it is a string of 1 to 18 ASCII digits (or
    already such an int); otherwise None, which callers answer as "not found"."""
    if type(value) is int:
        return value if 0 <= value < 10**18 else None
    if isinstance(value, str) and _ID.fullmatch(value):
        return int(value)
    return None


def integer_parse(text: object) -> int | None:
    """``text`` as an integer when it is an optional ``-`` and ASCII digits; otherwise
    None. Past 30 significant digits the value is given as ``±10**30`` (beyond any
    bound a caller checks), so no length of input reaches ``int()``'s limit."""
    if not isinstance(text, str) or not _INTEGER.fullmatch(text):
        return None
    if len(text.lstrip("-").lstrip("0")) > 30:
        return -(10**30) if text.startswith("-") else 10**30
    return int(text)
