"""The statement timeout that bounds one run search on PostgreSQL, so a filter that
makes the database work for minutes cannot hold a connection and CPU the other
clients need."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import OperationalError, connection, transaction

from apps.core.errors import Invalid

logger = logging.getLogger(__name__)

# PostgreSQL's query_canceled: a statement stopped by statement_timeout (or cancelled).
QUERY_CANCELED = "57014"


class SearchTimeout(Invalid):
    """A search stopped by the statement timeout. A 400, not a 503: the same search
    would most likely be stopped again, and clients (the SDK included) retry 5xx
    answers, which would multiply the load the timeout exists to shed; the message
    says how to change the request instead."""

    code = "search_timeout"


@contextmanager
def search_timeout(milliseconds: int | None = None) -> Iterator[None]:
    """Run the block in a transaction (a savepoint inside one) whose statements
    PostgreSQL stops after ``milliseconds`` (default ``KIROKU_SEARCH_TIMEOUT_MS``;
    0 means no limit). The block must only read: it is rolled back on the way out,
    which also ends the timeout, so statements after it run without one.

    Raises SearchTimeout (field ``filter``) when a statement was stopped. Elsewhere
    than on PostgreSQL (SQLite) the block just runs."""
    limit = settings.KIROKU_SEARCH_TIMEOUT_MS if milliseconds is None else milliseconds
    if connection.vendor != "postgresql" or limit <= 0:
        yield
        return
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL statement_timeout = {int(limit)}")
            yield
            transaction.set_rollback(True)
    except OperationalError as exc:
        cause = exc.__cause__
        if (getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)) != QUERY_CANCELED:
            raise
        logger.warning("run search stopped after %s ms", limit)
        raise SearchTimeout(
            f"the search took longer than {limit / 1000:g} s and was stopped; narrow the "
            "filter (fewer conditions on metrics, params or tags, or on fewer runs) or sort "
            "by fewer keys",
            field="filter",
        ) from None
