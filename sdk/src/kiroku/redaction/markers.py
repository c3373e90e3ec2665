"""What a secret is replaced with: ``[redacted:<kind>]``, the kind naming its format
(``openai-key``, ``password``...) or ``secret`` for a value hidden because of its name."""

from __future__ import annotations

MARKER = "[redacted:"
NAMED_KIND = "secret"  # the kind of a value hidden because of its name


def redacted(kind: str) -> str:
    """``[redacted:<kind>]``: what a secret of that kind is replaced with."""
    return f"{MARKER}{kind}]"
