"""Numbers as people read them, for the portal's pages."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.timesince import timesince

from apps.core.times import human_seconds

__all__ = ["human_ago", "human_seconds", "human_size"]

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


def human_ago(moment: datetime | None, *, now: datetime | None = None) -> str:
    """How long before ``now`` ``moment`` was: ``"just now"`` under a minute (and for a
    moment in the future, a clock a little ahead), else Django's ``timesince`` with
    ``" ago"`` (``"3 minutes ago"``, ``"2 days, 4 hours ago"``); ``"—"`` for None."""
    if moment is None:
        return "—"
    now = now or timezone.now()
    if (now - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment, now)} ago"
