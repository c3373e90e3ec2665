"""All of the SDK's HTTP: one client per user of it, every answer classified as
success, transient (retry with backoff) or permanent (never retried).

Transient: connection errors, timeouts, 408, 429 and 5xx (``Retry-After`` honoured).
Permanent: every other 4xx (400, 401, 403, 404, 409, 413, 422...).
"""

from __future__ import annotations

import email.utils
import json
import random
import ssl
import time
from dataclasses import dataclass
from typing import Any

import httpx

from kiroku.errors import KirokuError, Unreachable, error_for_status
from kiroku.settings import Settings
from kiroku.version import __version__

TRANSIENT_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))
# What OpenSSL says when the other side answers a TLS hello in plain HTTP.
_PLAIN_HTTP_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST"}
)


def speaks_plain_http(exc: BaseException) -> bool:
    """Whether a failed TLS connection met a server that speaks plain HTTP."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError) and current.reason in _PLAIN_HTTP_REASONS:
            return True
        current = current.__cause__ or current.__context__
    text = str(exc).lower()
    return "wrong version number" in text or "record layer failure" in text


def plain_http_message(url: str) -> str:
    plain = "http://" + url.removeprefix("https://")
    return f"cannot reach {url}: the server there speaks plain HTTP, not HTTPS; use {plain}"


def json_bytes(body: Any) -> bytes:
    """Strict JSON (NaN must already be encoded as "NaN"), UTF-8, compact."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


@dataclass
class Reply:
    """One attempt's outcome. ``status`` is None when no HTTP answer came back."""

    status: int | None
    data: Any = None
    message: str = ""
    code: str | None = None
    field: str | None = None
    retry_after: float | None = None
    # Nothing listens at the address (the connection was refused), or nothing this
    # client can talk to (plain HTTP where HTTPS was asked): not worth waiting for.
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def transient(self) -> bool:
        return self.status is None or self.status in TRANSIENT_STATUSES

    def error(self) -> KirokuError:
        if self.status is None:
            return Unreachable(self.message)
        return error_for_status(self.status, self.message, self.code, self.field)

    def describe(self) -> str:
        """One line for a person: ``HTTP 409 conflict (params.lr): param 'lr' is ...``."""
        if self.status is None:
            return self.message
        where = f" ({self.field})" if self.field else ""
        return f"HTTP {self.status} {self.code or ''}{where}: {self.message}".replace("  ", " ")


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_delay(
    attempt: int, *, base: float, maximum: float, retry_after: float | None = None
) -> float:
    """Exponential backoff with equal jitter (half fixed, half random, so retries from
    many clients spread out but never come back at once), and never sooner than the
    server's ``Retry-After``."""
    cap: float = min(maximum, base * (2 ** min(attempt, 30)))
    delay = cap / 2 + random.uniform(0, cap / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def retry_delay(settings: Settings, attempt: int, reply: Reply) -> float:
    """``backoff_delay`` with the settings' base and maximum and the reply's Retry-After."""
    return backoff_delay(
        attempt,
        base=settings.backoff_base,
        maximum=settings.backoff_max,
        retry_after=reply.retry_after,
    )


class Transport:
    """An HTTP client for one server and token. Not shared between threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        headers = {"User-Agent": f"kiroku-python/{__version__}", "Accept": "application/json"}
        if settings.token:
            headers["Authorization"] = f"Bearer {settings.token}"
        self._client = httpx.Client(
            base_url=settings.api_url,
            headers=headers,
            timeout=httpx.Timeout(settings.timeout, connect=min(settings.timeout, 5.0)),
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Reply:
        """One attempt; never raises for network trouble (the Reply says what happened)."""
        content = None if body is None else json_bytes(body)
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            response = self._client.request(
                method, path, content=content, params=params, headers=headers
            )
        except httpx.TimeoutException as exc:
            return Reply(None, message=f"timed out after {self.settings.timeout:g}s ({exc!r})")
        except httpx.ConnectError as exc:
            url = self.settings.url or ""
            if url.startswith("https://") and speaks_plain_http(exc):
                # Retrying cannot help: give up as soon as for a refused connection.
                return Reply(None, message=plain_http_message(url), refused=True)
            refused = isinstance(exc.__context__ or exc.__cause__, ConnectionRefusedError) or (
                "refused" in str(exc).lower()
            )
            return Reply(None, message=f"cannot reach {url}: {exc}", refused=refused)
        except httpx.TransportError as exc:
            return Reply(None, message=f"cannot reach {self.settings.url}: {exc}")
        return response_reply(response)

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        deadline: float | None = None,
    ) -> Any:
        """The answer's JSON, retrying transient failures until ``deadline`` (a
        ``time.monotonic()`` value; default: ``settings.init_timeout`` from now).
        Gives up after the second refused connection: nothing listens there, and
        waiting out the deadline would only delay the caller (runs are created later
        by the sender). Raises the KirokuError that fits the last failure."""
        deadline = time.monotonic() + self.settings.init_timeout if deadline is None else deadline
        attempt = 0
        while True:
            reply = self.request(method, path, body=body, params=params)
            if reply.ok:
                return reply.data
            if not reply.transient or (reply.refused and attempt >= 1):
                raise reply.error()
            delay = retry_delay(self.settings, attempt, reply)
            if time.monotonic() + delay > deadline:
                raise reply.error()
            time.sleep(delay)
            attempt += 1


def response_reply(response: httpx.Response) -> Reply:
    """An API answer as a Reply: its JSON, or the error body's code, message and field."""
    try:
        data = response.json() if response.content else None
    except ValueError:
        data = None
    if response.is_success:
        return Reply(response.status_code, data=data)
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or response.reason_phrase)
        code, field = error.get("code"), error.get("field")
    else:
        message = response.reason_phrase or "error"
        code, field = None, None
    return Reply(
        response.status_code,
        data=data,
        message=message,
        code=code,
        field=field,
        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
    )
