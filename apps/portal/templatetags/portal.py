"""Template helpers for the portal. Everything a user typed reaches the page through
Django's autoescaping; nothing here marks user text safe."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import template

from apps.core.floats import float_out
from apps.portal.formatting import human_ago, human_seconds

register = template.Library()
# ``{{ run.created_at|ago }}``: "just now", "5 minutes ago" (never "0 minutes ago").
register.filter("ago", human_ago)


@register.simple_tag
def query(base: dict[str, str], **overrides: Any) -> str:
    """``base`` with ``overrides`` as a query string, empty values left out."""
    values = {**base, **overrides}
    return urlencode({k: v for k, v in values.items() if v not in (None, "")})


@register.simple_tag
def sort_state(order_by: str, identifier: str) -> str:
    """The aria-sort value of a column header."""
    first = order_by.split(",")[0].strip()
    if first == f"{identifier} DESC":
        return "descending"
    if first in {identifier, f"{identifier} ASC"}:
        return "ascending"
    if not first and identifier == "created":
        return "descending"  # the default order: newest first
    return "none"


@register.simple_tag
def duration(run) -> str:
    if run.ended_at is None:
        return "—"
    return human_seconds((run.ended_at - run.started_at).total_seconds())


def number(value: Any) -> str:
    """A metric value for a table cell: NaN and infinities spelled out, others with
    up to 6 significant digits."""
    if value is None:
        return "—"
    if isinstance(value, str):  # "NaN", "Infinity", "-Infinity" from float_out
        return value
    return f"{value:.6g}"


register.filter("number", number)


@register.simple_tag
def cell(row: dict[str, Any], column) -> str:
    """The value of a params/metrics/tags column for one row (autoescaped)."""
    values = row.get(column.kind, {})
    if column.kind == "metrics":
        summary = values.get(column.key)
        return number(summary.get("last") if summary else None)
    value = values.get(column.key)
    return "—" if value is None else str(value)


@register.filter
def metric_value(value: Any) -> str:
    return number(float_out(value) if isinstance(value, float) else value)
