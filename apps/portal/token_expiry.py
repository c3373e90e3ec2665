"""When a token made on the portal expires: the choice of the token forms (personal
tokens on /tokens, service tokens in a project's settings), read into ``expires_at``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta

from django.utils import timezone

from apps.core.errors import Invalid

# (value, label) of the "Expires" select; "never" is the default.
EXPIRY_CHOICES = (
    ("never", "Never"),
    ("7", "In 7 days"),
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In a year"),
    ("date", "On a date…"),
)
# A date further away than this is refused: a token meant to last longer is "Never",
# which says so plainly.
EXPIRY_MAX_DAYS = 366


def token_expiry_from_form(
    data: Mapping[str, str], *, now: datetime | None = None
) -> datetime | None:
    """``expires_at`` from a token form's ``expires`` (a value of EXPIRY_CHOICES; missing
    means never) and ``expires_on`` (``YYYY-MM-DD``, only with ``expires=date``; the token
    works through that day, UTC, and stops at the midnight after it).

    Returns None for a token that never expires. Raises Invalid (field ``expires`` or
    ``expires_on``) for an unknown choice, a missing or malformed date, a date given
    with another choice, a date that is not after today, or one more than
    EXPIRY_MAX_DAYS away."""
    now = now or timezone.now()
    choice = (data.get("expires") or "never").strip()
    typed = (data.get("expires_on") or "").strip()
    allowed = {value for value, _ in EXPIRY_CHOICES}
    if choice not in allowed:
        names = ", ".join(label.rstrip("…").lower() for _, label in EXPIRY_CHOICES)
        raise Invalid(f"choose when the token expires: {names}", field="expires")
    if choice != "date":
        if typed:
            raise Invalid(
                "a date is used only with “On a date”: choose it, or clear the date",
                field="expires_on",
            )
        return None if choice == "never" else now + timedelta(days=int(choice))
    if not typed:
        raise Invalid("give the date the token expires on", field="expires_on")
    try:
        day = date.fromisoformat(typed)
    except ValueError:
        raise Invalid(
            "the expiry date must be a date such as 2026-12-31", field="expires_on"
        ) from None
    today = now.astimezone(UTC).date()
    if day <= today:
        raise Invalid("the expiry date must be after today (UTC)", field="expires_on")
    if day > today + timedelta(days=EXPIRY_MAX_DAYS):
        raise Invalid(
            f"the expiry date must be at most {EXPIRY_MAX_DAYS} days away; "
            "choose “Never” for a token without expiry",
            field="expires_on",
        )
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def token_expiry_context(
    typed: Mapping[str, str] | None = None, *, now: datetime | None = None
) -> dict[str, object]:
    """What ``portal/_token_expiry_fields.html`` needs: the choices, the date input's
    bounds, and what was typed (kept when a form is refused)."""
    today = (now or timezone.now()).astimezone(UTC).date()
    typed = typed or {}
    return {
        "expiry_choices": EXPIRY_CHOICES,
        "expiry_min": (today + timedelta(days=1)).isoformat(),
        "expiry_max": (today + timedelta(days=EXPIRY_MAX_DAYS)).isoformat(),
        "typed_expires": typed.get("expires") or "never",
        "typed_expires_on": typed.get("expires_on") or "",
    }
