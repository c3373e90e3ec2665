"""Talking to storage URLs (S3 presigned URLs, or the server's own ``/store/``): the
one place that sends file bytes, without the token (the URL is the credential)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import httpx

from kiroku.artifacts.files import read_range
from kiroku.errors import KirokuError
from kiroku.settings import Settings
from kiroku.transport import Reply, retry_after_seconds
from kiroku.version import __version__

_S3_ERROR = re.compile(r"<Code>([^<]{1,100})</Code>(?:.*?<Message>([^<]{1,300})</Message>)?", re.S)


MAX_REFUSED_PUTS = 3  # 403s from a storage URL (fresh ones, for a part) before giving up


class Failed(Exception):
    """A file cannot be uploaded; ``error`` says why (and is what strict=True raises)."""

    def __init__(self, error: KirokuError) -> None:
        super().__init__(error.message)
        self.error = error


class Stopped(Exception):
    """The transfer was stopped from outside (``should_stop()`` turned true)."""


class SourceError(Exception):
    """The file being sent cannot be read, or is shorter than it was (it changed)."""


def storage_client(settings: Settings, *, follow_redirects: bool = False) -> httpx.Client:
    """A client for storage URLs: it never carries the token. One place, so tests
    can wrap its transport."""
    return httpx.Client(
        headers={"User-Agent": f"kiroku-python/{__version__}"},
        timeout=httpx.Timeout(settings.timeout, connect=min(settings.timeout, 5.0)),
        follow_redirects=follow_redirects,
    )


def storage_put(
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    path: str,
    offset: int,
    length: int,
    *,
    on_bytes: Callable[[int], None],
    should_stop: Callable[[], bool],
) -> tuple[Reply, str | None]:
    """PUT bytes ``[offset, offset+length)`` of ``path`` to ``url`` with exactly the
    server's ``headers``; returns the outcome (never raised for HTTP or network
    trouble) and the answer's ``ETag``. ``on_bytes(n)`` hears of bytes as they go and,
    when the PUT fails, of ``-sent`` (so progress never counts a byte twice).

    Raises SourceError when the file cannot be read or has shrunk, Stopped when
    ``should_stop()`` turned true mid-upload."""
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        try:
            for chunk in read_range(path, offset, length):
                if should_stop():
                    raise Stopped(path)
                sent += len(chunk)
                on_bytes(len(chunk))
                yield chunk
        except OSError as exc:  # raised through httpx as it is
            raise SourceError(f"cannot read {path}: {exc}") from exc

    headers = dict(headers)
    if not any(name.lower() == "content-length" for name in headers):
        # Storage refuses chunked bodies; with this header httpx sends the iterator
        # as a plain body of that length.
        headers["Content-Length"] = str(length)
    try:
        response = client.put(url, content=body(), headers=headers)
    except httpx.TransportError as exc:
        on_bytes(-sent)
        return Reply(None, message=f"storage upload failed: {exc!r}"), None
    except BaseException:
        on_bytes(-sent)
        raise
    if response.is_success:
        return Reply(response.status_code), response.headers.get("ETag")
    on_bytes(-sent)
    return answer_reply(response, response.content), None


def answer_reply(response: httpx.Response, body: bytes) -> Reply:
    """A storage error answer as a Reply; S3's XML ``<Code>`` and ``<Message>`` in
    ``body`` (the answer's first bytes) make the message."""
    message = response.reason_phrase or "error"
    found = _S3_ERROR.search(body[:4000].decode("utf-8", "replace"))
    if found:
        message = f"{found.group(1)}: {found.group(2) or ''}".rstrip(": ")
    return Reply(
        response.status_code,
        message=message,
        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
    )


def error_body(response: httpx.Response, limit: int = 4000) -> bytes:
    """The first ``limit`` bytes of a streamed answer (an error body may be endless)."""
    body = b""
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) >= limit:
            break
    return body[:limit]


def absolute_url(base: str | None, url: str) -> str:
    """A storage URL the server gave, resolved against ``base`` (the server's URL or
    the request's) as a browser would: the local backend answers with paths on the
    server itself (``/store/...``). Raises ValueError for anything but http(s)."""
    joined = httpx.URL(f"{base.rstrip('/')}/" if base else "").join(url)
    if joined.scheme not in ("http", "https") or not joined.host:
        raise ValueError(f"storage URL {url[:100]!r} is not http(s)")
    return str(joined)
