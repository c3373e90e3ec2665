"""Free text redacted: every secret of a known format, and the value of every secret
name as the text's file type writes it, replaced by its marker."""

from __future__ import annotations

from typing import Any

from kiroku.redaction.assignments import assignment_spans, sections
from kiroku.redaction.formats import format_spans
from kiroku.redaction.markers import redacted

_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


def _apply(text: str, spans: list[tuple[int, int, str, int]]) -> str:
    """``text`` with each span replaced by its marker; overlapping spans are merged and
    keep the kind of the one that ranks first (a known format before a name)."""
    if not spans:
        return text
    spans.sort(key=lambda span: (span[0], span[3], -span[1]))
    merged: list[list[Any]] = []
    for start, end, kind, rank in spans:
        if merged and start < merged[-1][1]:
            last = merged[-1]
            if rank < last[3]:
                last[2], last[3] = kind, rank
            last[1] = max(last[1], end)
        else:
            merged.append([start, end, kind, rank])
    out: list[str] = []
    position = 0
    for start, end, kind, _ in merged:
        out.append(text[position:start])
        out.append(redacted(kind))
        position = end
    out.append(text[position:])
    return "".join(out)


def redact_text(text: str, *, filename: str | None = None) -> str:
    """``text`` with every secret replaced by ``[redacted:<kind>]``.

    ``filename`` says how named assignments are read (``.py``: quoted values only;
    ``.yaml``, ``.env``, ``.ini``: unquoted too); a git diff is read file by file from
    its own headers. Anything not a ``str`` is returned as it is.
    """
    if not isinstance(text, str) or not text:
        return text
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters grow in lower case ("İ"): ASCII only
        lowered = text.translate(_ASCII_LOWER)
    spans = [(start, end, kind, 0) for start, end, kind in format_spans(text, lowered)]
    for start, end, mode in sections(text, filename):
        spans += [
            (s, e, kind, 1) for s, e, kind in assignment_spans(text, lowered, start, end, mode)
        ]
    return _apply(text, spans)
