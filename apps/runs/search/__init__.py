"""Run search: a filter language (a superset of MLflow's ``search_runs`` filters),
``order_by`` and keyset pagination. The README's "Searching runs" section is the
user-facing description; ``parser`` holds the grammar.
"""

from __future__ import annotations

from django.db.models import QuerySet

from apps.core.errors import Invalid
from apps.runs.models import Run
from apps.runs.search.compiler import compile_filter
from apps.runs.search.lexer import SearchSyntaxError
from apps.runs.search.ordering import (
    MAX_ORDER_KEYS,
    apply_order,
    cursor_for,
    cursor_values,
    keyset_after,
    order_signature,
    parse_order_by,
    sort_columns,
)
from apps.runs.search.parser import (
    MAX_COMPARISONS,
    MAX_FILTER_LENGTH,
    MAX_NESTING,
    MAX_VALUES,
    Node,
    parse_filter,
)
from apps.runs.search.timeout import SearchTimeout, search_timeout

MAX_PAGE_SIZE = 1000

__all__ = [
    "MAX_COMPARISONS",
    "MAX_FILTER_LENGTH",
    "MAX_NESTING",
    "MAX_ORDER_KEYS",
    "MAX_PAGE_SIZE",
    "MAX_VALUES",
    "Node",
    "SearchSyntaxError",
    "SearchTimeout",
    "compile_filter",
    "parse_filter",
    "parse_order_by",
    "runs_search",
]


def runs_search(
    *,
    queryset: QuerySet[Run],
    filter: str = "",
    order_by: str = "",
    page_size: int = 100,
    cursor: str | None = None,
) -> tuple[list[Run], str | None]:
    """One page of the runs in ``queryset`` that ``filter`` matches, in ``order_by``
    order, and the cursor for the next page (``None`` on the last page).

    ``queryset`` must already be permission-scoped; its filters, ``select_related``
    and ``prefetch_related`` are kept, its ordering is replaced. The page holds at
    most ``page_size`` runs, each carrying its sort values as ``search_sort_<i>``
    attributes. One query runs; on PostgreSQL it runs under ``search_timeout`` (a
    statement timeout, set in its own transaction or savepoint).

    Raises Invalid with ``field`` ``"filter"``, ``"order_by"``, ``"page_size"`` (not
    an integer in 1..MAX_PAGE_SIZE) or ``"cursor"`` (not issued by this server, or
    issued for another filter or order_by); SearchTimeout (an Invalid, code
    ``search_timeout``, field ``"filter"``) when the query took longer than
    ``KIROKU_SEARCH_TIMEOUT_MS``.
    """
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise Invalid("page_size must be an integer", field="page_size")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise Invalid(
            f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}", field="page_size"
        )
    node = parse_filter(filter)
    keys = parse_order_by(order_by)
    columns = sort_columns(keys)
    signature = order_signature(keys, filter)
    after = cursor_values(cursor, columns, signature) if cursor is not None else None

    runs = queryset.filter(compile_filter(node)) if node is not None else queryset
    runs = apply_order(runs, columns)
    if after is not None:
        runs = runs.filter(keyset_after(columns, after))
    with search_timeout():
        page = list(runs[: page_size + 1])
    if len(page) <= page_size:
        return page, None
    page = page[:page_size]
    return page, cursor_for(page[-1], columns, signature)
