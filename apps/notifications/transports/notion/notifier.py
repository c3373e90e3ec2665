"""Notion: a page per delivery in the destination's database, through notion_client.

With ``Notion-Version: 2025-09-03`` pages live under a database's *data source*: the
notifier resolves the database (``destination.target``) to its first data source once and
keeps the id in ``destination.remote``. A page is written with ``pages.create`` (the
properties and the first request's worth of blocks) followed by ``blocks.children.append``
for the rest; each step is recorded on the delivery (``remote_id``, ``progress``) as soon
as Notion confirms it, so a retry goes on from there.

Exactly once: when an attempt's outcome is unknown (a timeout after Notion accepted the
page, a lost worker), the next attempt queries the data source for a page whose
"Kiroku ID" property is the report's key and adopts it; a retry that already knows its
page counts the page's blocks before appending, so an append whose answer was lost is
not repeated. The search needs a rich-text "Kiroku ID" property, which ``test()`` adds
when it is missing; a database without it still receives pages, but a retry after such
an unknown outcome may then create a second page.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Iterator
from typing import Any, cast

import httpx
from django.conf import settings
from notion_client import Client
from notion_client.errors import APIResponseError, HTTPResponseError, RequestTimeoutError
from notion_client.typing import SyncAsync

from apps.notifications.crypto import CredentialsUnreadable
from apps.notifications.models import Delivery, Destination
from apps.notifications.report_content import Report
from apps.notifications.transports.base import Notifier, Sent, TransportError
from apps.notifications.transports.notion.blocks import MAX_CHILDREN, batch_end, notion_page

KIROKU_ID = "Kiroku ID"
TEST_TITLE = "Kiroku test message"
DEFAULT_RETRY_AFTER = 30.0
# notion_client adds a console handler to its default logger per Client: pass our own.
CLIENT_LOGGER = logging.getLogger("apps.notifications.notion_client")

PERMANENT_CODES = {
    "unauthorized",
    "restricted_resource",
    "object_not_found",
    "validation_error",
    "invalid_request",
    "invalid_request_url",
    "invalid_json",
}
TRANSIENT_STATUSES = {408, 409, 425, 429}


class NotionNotifier(Notifier):
    kind = "notion"

    def send(self, delivery: Delivery, report: Report) -> Sent:
        with _mapped_errors(), self._client() as client:
            data_source_id, schema = self._data_source(client)
            properties, children = notion_page(report, schema)
            page_id: str | None = delivery.remote_id
            if not page_id and delivery.attempts > 1 and _has_kiroku_id(schema):
                page_id = self._find_page(client, data_source_id, report.key)
                if page_id:
                    # pages.create is all or nothing: the first batch came with the page.
                    self.record_progress(
                        delivery, remote_id=page_id, progress=batch_end(children, 0)
                    )
            if page_id:
                start = max(delivery.progress, self._count_children(client, page_id))
            else:
                end = batch_end(children, 0)
                page = client.pages.create(
                    parent={"type": "data_source_id", "data_source_id": data_source_id},
                    properties=properties,
                    children=children[:end],
                )
                page_id = _field(page, "id")
                self.record_progress(delivery, remote_id=page_id, progress=end)
                start = end
            while start < len(children):
                end = batch_end(children, start)
                client.blocks.children.append(block_id=page_id, children=children[start:end])
                self.record_progress(delivery, remote_id=page_id, progress=end)
                start = end
        return Sent(remote_id=page_id)

    def test(self) -> None:
        with _mapped_errors(), self._client() as client:
            data_source_id, schema = self._data_source(client, refresh=True)
            if KIROKU_ID not in schema:
                client.data_sources.update(
                    data_source_id, properties={KIROKU_ID: {"rich_text": {}}}
                )
            elif not _has_kiroku_id(schema):
                # Someone made it another type: the duplicate check cannot use it.
                raise TransportError("kiroku_id_not_text", permanent=True)
            title = next((n for n, p in schema.items() if p.get("type") == "title"), None)
            if title is None:
                raise TransportError("no_title_property", permanent=True)
            client.pages.create(
                parent={"type": "data_source_id", "data_source_id": data_source_id},
                properties={
                    title: {"title": [{"type": "text", "text": {"content": TEST_TITLE}}]},
                    KIROKU_ID: {"rich_text": [{"type": "text", "text": {"content": "test"}}]},
                },
                children=[
                    {
                        "object": "block",
                        "type": "paragraph",
                        "paragraph": {
                            "rich_text": [
                                {
                                    "type": "text",
                                    "text": {
                                        "content": "Kiroku can write to this database. "
                                        "Run summaries will appear here."
                                    },
                                }
                            ]
                        },
                    }
                ],
            )

    def pace_key(self) -> str | None:
        return None

    # --- helpers ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _client(self) -> Iterator[Client]:
        try:
            token = self.destination.credentials["token"]
        except (CredentialsUnreadable, KeyError):
            raise TransportError("credentials_unreadable", permanent=True) from None
        client = Client(
            auth=token,
            base_url=settings.KIROKU_NOTION_API_URL.rstrip("/"),
            notion_version=settings.KIROKU_NOTION_VERSION,
            timeout_ms=settings.KIROKU_NOTIFY_TIMEOUT_SECONDS * 1000,
            logger=CLIENT_LOGGER,
            log_level=logging.WARNING,
        )
        try:
            yield client
        finally:
            client.close()

    def _data_source(self, client: Client, *, refresh: bool = False) -> tuple[str, dict]:
        """The id and properties schema of the target database's first data source; the
        id is cached in ``destination.remote`` (for the current target only)."""
        remote = self.destination.remote or {}
        cached = remote.get("data_source_id")
        if cached and not refresh and remote.get("database_id") == self.destination.target:
            try:
                return cached, _field(client.data_sources.retrieve(cached), "properties")
            except APIResponseError as error:
                if error.code != "object_not_found":
                    raise
                # The data source went away: look the database up again.
        database = _answer(client.databases.retrieve(database_id=self.destination.target))
        sources = database.get("data_sources") or []
        if not sources:
            raise TransportError("no_data_source", permanent=True)
        data_source_id = _field(sources[0], "id")
        schema = _field(client.data_sources.retrieve(data_source_id), "properties")
        remote = {
            **remote,
            "database_id": self.destination.target,
            "data_source_id": data_source_id,
        }
        self.destination.remote = remote
        Destination.objects.filter(pk=self.destination.pk).update(remote=remote)
        return data_source_id, schema

    @staticmethod
    def _find_page(client: Client, data_source_id: str, key: str) -> str | None:
        found = _answer(
            client.data_sources.query(
                data_source_id,
                filter={"property": KIROKU_ID, "rich_text": {"equals": key}},
                page_size=1,
            )
        )
        results = found.get("results") or []
        return _field(results[0], "id") if results else None

    @staticmethod
    def _count_children(client: Client, page_id: str) -> int:
        """How many top-level blocks the page has: an append whose answer was lost still
        counts, so a retry does not append the same blocks twice."""
        count, cursor = 0, None
        while True:
            kwargs: dict[str, Any] = {"page_size": MAX_CHILDREN}
            if cursor:
                kwargs["start_cursor"] = cursor
            listing = _answer(client.blocks.children.list(page_id, **kwargs))
            count += len(listing.get("results") or [])
            cursor = listing.get("next_cursor")
            if not listing.get("has_more") or not cursor:
                return count


def _answer(answer: SyncAsync[Any]) -> dict[str, Any]:
    """A Notion answer as the sync Client returns it: the decoded JSON object.
    notion_client types its endpoints for its async client too (``Any | Awaitable``),
    which a sync Client never returns."""
    return cast(dict[str, Any], answer)


def _field(obj: Any, key: str) -> Any:
    """``obj[key]`` from a Notion answer; an answer without it is a bad response."""
    if not isinstance(obj, dict) or key not in obj:
        raise TransportError("bad_response")
    return obj[key]


def _has_kiroku_id(schema: dict[str, dict[str, Any]]) -> bool:
    return schema.get(KIROKU_ID, {}).get("type") == "rich_text"


@contextlib.contextmanager
def _mapped_errors() -> Iterator[None]:
    """Turn notion_client's and httpx's errors into TransportError (code only: the
    remote's message may quote what we sent)."""
    try:
        yield
    except APIResponseError as error:
        code = str(getattr(error.code, "value", error.code))
        if code == "rate_limited" or error.status == 429:
            retry_after = _retry_after(error.headers)
            if retry_after is None:
                retry_after = DEFAULT_RETRY_AFTER
            raise TransportError("rate_limited", retry_after=retry_after) from None
        if code in PERMANENT_CODES:
            raise TransportError(code, permanent=True) from None
        raise TransportError(code, permanent=not _transient_status(error.status)) from None
    except HTTPResponseError as error:
        retry_after = _retry_after(error.headers)
        if error.status == 429 and retry_after is None:
            retry_after = DEFAULT_RETRY_AFTER
        raise TransportError(
            f"http_{error.status}",
            permanent=not _transient_status(error.status),
            retry_after=retry_after,
        ) from None
    except RequestTimeoutError:
        raise TransportError("timeout") from None
    except httpx.TimeoutException:
        raise TransportError("timeout") from None
    except httpx.TransportError:
        raise TransportError("connection_error") from None
    except (httpx.DecodingError, json.JSONDecodeError):
        # A 2xx answer that is not JSON (a proxy's page, a cut body).
        raise TransportError("bad_response") from None


def _transient_status(status: int) -> bool:
    return status >= 500 or status in TRANSIENT_STATUSES


def _retry_after(headers: httpx.Headers) -> float | None:
    """The Retry-After header in seconds (Notion sends an integer), or None."""
    try:
        seconds = float(headers.get("retry-after", ""))
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
