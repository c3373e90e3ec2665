"""The lines a run prints for the person who started it: one at ``kiroku.init()``
(``Kiroku: run <name> → <url>``) and one at ``finish()`` (status, duration, points
sent, anything left for ``kiroku sync``), on stderr, so a script's own stdout stays
its own. ``quiet=True`` or ``KIROKU_SILENT=true`` turns them off.

Problems are not printed here: they go through the ``kiroku`` logger, once each.
"""

from __future__ import annotations

import sys

ARROW = "→"


def say(line: str) -> None:
    """Write ``Kiroku: <line>`` to stderr. Never raises: a closed or missing stderr
    (at interpreter exit, under pythonw) or one that cannot encode the arrow is no
    reason to disturb the run."""
    stream = sys.stderr
    if stream is None:
        return
    text = f"Kiroku: {line}\n"
    try:
        try:
            stream.write(text)
        except UnicodeEncodeError:
            stream.write(text.replace(ARROW, "->").encode("ascii", "replace").decode("ascii"))
        stream.flush()
    except (OSError, ValueError):
        pass


def duration_text(seconds: float) -> str:
    """``0.8s``, ``42s``, ``2m 05s``, ``3h 07m``."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def count_text(count: int, unit: str) -> str:
    return f"{count:,} {unit}{'' if count == 1 else 's'}"
