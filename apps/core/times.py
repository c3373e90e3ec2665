"""Times on the wire: ISO-8601 UTC, or Unix seconds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from apps.core.errors import Invalid
from apps.core.floats import is_finite

OUT_OF_RANGE = "time must fall within years 1 to 9999 once converted to UTC"


def time_clean(value: Any, *, field: str) -> datetime | None:
    """ISO-8601 (a naive time is taken as UTC) or Unix seconds."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise Invalid("must be an ISO-8601 time or Unix seconds", field=field)
    if isinstance(value, int | float):
        if not is_finite(value) or not 0 <= value < 32503680000:
            raise Invalid("Unix seconds out of range", field=field)
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise Invalid(
                "must be an ISO-8601 time such as 2026-01-31T12:00:00Z", field=field
            ) from None
        utc = as_utc(parsed)
        if utc is None:
            raise Invalid(OUT_OF_RANGE, field=field)
        return utc
    raise Invalid("must be an ISO-8601 time or Unix seconds", field=field)


def as_utc(moment: datetime) -> datetime | None:
    """``moment`` in UTC (a naive time is taken as UTC), or None when that falls
    outside years 1 to 9999: ``9999-12-31T23:59:59-14:00`` is in year 10000 in UTC,
    which neither Python nor the databases' adapters can hold."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


def human_seconds(seconds: float) -> str:
    """``3723`` → ``"1h 02m 03s"``; ``75`` → ``"1m 15s"``; ``4.2`` → ``"4s"``."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
