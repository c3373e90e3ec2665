"""Pages of the API's simple lists: ``page_size`` up to a documented maximum (a larger
one is a 400 naming the field and the limit), and ``next``, a signed cursor that
continues after the page's last row (keyset: no offset to count past)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter

from apps.core.cursors import cursor_decode, cursor_encode
from apps.core.errors import Invalid
from apps.core.views import query_int


@dataclass(frozen=True)
class Listing:
    """How one list pages. ``order`` holds field paths (``-`` for descending) whose
    last one is unique within the list, so every row has one place; none may be
    null. A cursor names its listing and is refused by another."""

    name: str
    order: tuple[str, ...]
    default_size: int = 100
    max_size: int = 1000

    def parameters(self) -> list[OpenApiParameter]:
        """``page_size`` and ``cursor``, as the OpenAPI schema documents them."""
        return [
            OpenApiParameter(
                "page_size", int, description=f"1 to {self.max_size} (default {self.default_size})"
            ),
            OpenApiParameter("cursor", str, description="the `next` of the previous page"),
        ]


def list_page(request: Any, rows: QuerySet[Any], listing: Listing) -> tuple[list[Any], str | None]:
    """The page of ``rows`` that the request's ``page_size`` and ``cursor`` ask for, in
    ``listing.order``, and the cursor of the next page (None on the last one). Rows
    may be model instances or ``values()`` dicts holding the order's fields.

    Raises Invalid naming ``page_size`` (not an integer from 1 to the listing's
    maximum) or ``cursor`` (not issued by this server for this listing)."""
    size = query_int(
        request, "page_size", default=listing.default_size, minimum=1, maximum=listing.max_size
    )
    assert size is not None
    rows = rows.order_by(*listing.order)
    cursor = request.query_params.get("cursor")
    if cursor:
        rows = rows.filter(_after(listing.order, _cursor_values(cursor, listing)))
    page = list(rows[: size + 1])
    if len(page) <= size:
        return page, None
    page = page[:size]
    return page, cursor_after(page[-1], listing)


def cursor_after(row: Any, listing: Listing) -> str:
    """The cursor that continues ``listing`` after ``row`` (a model instance or a
    ``values()`` dict holding the order's fields): what ``next`` carries, for a
    listing that hands out the first page itself."""
    values = [_jsonable(_value(row, field.lstrip("-"))) for field in listing.order]
    return cursor_encode({"list": listing.name, "after": values})


def _cursor_values(cursor: str, listing: Listing) -> list[Any]:
    payload = cursor_decode(cursor)
    if not isinstance(payload, dict):
        payload = {}
    after = payload.get("after")
    if (
        payload.get("list") != listing.name
        or not isinstance(after, list)
        or len(after) != len(listing.order)
    ):
        raise Invalid("cursor is not one of this list's; use the `next` given", field="cursor")
    return after


def _after(order: tuple[str, ...], values: list[Any]) -> Q:
    """Rows after ``values`` in ``order``: (a > x) or (a = x and (b > y or ...))."""
    condition: Q | None = None
    for field, value in reversed(list(zip(order, values, strict=True))):
        name = field.lstrip("-")
        beyond = Q(**{f"{name}__{'lt' if field.startswith('-') else 'gt'}": value})
        condition = beyond if condition is None else beyond | (Q(**{name: value}) & condition)
    assert condition is not None
    return condition


def _value(row: Any, path: str) -> Any:
    if isinstance(row, dict):
        return row[path]
    for part in path.split("__"):
        row = getattr(row, part)
    return row


def _jsonable(value: Any) -> Any:
    # Datetimes travel as ISO text, which the field's lookup parses back.
    return value.isoformat() if isinstance(value, datetime) else value
