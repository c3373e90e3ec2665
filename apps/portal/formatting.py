"""Numbers as people read them, for the portal's pages."""

from __future__ import annotations

from apps.core.times import human_seconds

__all__ = ["human_seconds", "human_size"]

SIZE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(size: int | None) -> str:
    """``1536`` → ``"1.5 KiB"``; bytes below 1 KiB are whole (``"512 B"``)."""
    if size is None:
        return "—"
    value = float(size)
    for unit in SIZE_UNITS:
        if abs(value) < 1024 or unit == SIZE_UNITS[-1]:
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
