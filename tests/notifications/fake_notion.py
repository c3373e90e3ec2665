"""A loopback Notion API (``Notion-Version: 2025-09-03``) for the real notion_client.

One database with one data source. It checks what Notion checks where it matters — the
bearer token (401 ``unauthorized``), the ``Notion-Version`` header (400
``missing_version`` / ``validation_error``), ids, the parent type, property names and
value types against the schema, and the size limits (``fake_notion_checks``) — and keeps
what it was sent: ``.pages`` (properties and all children, appends included) and
``.requests``.

Scripting, per operation (``op``: "databases.retrieve", "data_sources.retrieve",
"data_sources.update", "data_sources.query", "pages.create", "blocks.children.append",
"blocks.children.list", "users.me", or "*"): ``fail_next(kind, times=1, op=...)`` with kind

- "rate_limited": 429 + ``Retry-After: retry_after``;
- "overloaded": 529 with a non-JSON body; "server_error": 500 ``internal_server_error``;
  "service_unavailable": 503; "conflict_error": 409;
- "unauthorized", "restricted_resource", "object_not_found", "validation_error": the
  permanent errors, with their real statuses;
- "timeout_after_accept": do the operation, then answer ``delay`` seconds late (longer
  than the client's timeout), so the client gives up on a request that succeeded;
- "hang_after_accept": do the operation, then hold the answer until ``release()``
  (``wait_held()`` says when a request is held).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.loopback import Loopback
from tests.notifications.fake_notion_checks import Invalid
from tests.notifications.fake_notion_workspace import Answer, Workspace

VERSION = "2025-09-03"
MAX_BODY = 500 * 1024
FAILURES = {  # kind -> (status, code or None for a non-JSON body)
    "rate_limited": (429, "rate_limited"),
    "overloaded": (529, None),
    "server_error": (500, "internal_server_error"),
    "service_unavailable": (503, "service_unavailable"),
    "conflict_error": (409, "conflict_error"),
    "unauthorized": (401, "unauthorized"),
    "restricted_resource": (403, "restricted_resource"),
    "object_not_found": (404, "object_not_found"),
    "validation_error": (400, "validation_error"),
}
ACCEPTING = ("timeout_after_accept", "hang_after_accept")


@dataclass
class Fault:
    kind: str
    op: str
    times: int
    retry_after: int
    delay: float
    released: threading.Event = field(default_factory=threading.Event)


class FakeNotion(Workspace):
    """The fake API server around a Workspace (``.pages``, ``.schema``, ``.database_id``,
    ``.data_source_id``); ``.token`` is the one token it accepts."""

    def __init__(
        self, *, schema: dict[str, Any] | None = None, kiroku_id: bool = True, token: str = ""
    ) -> None:
        super().__init__(schema=schema, kiroku_id=kiroku_id)
        self.token = token or f"ntn_fake_{uuid.uuid4().hex}"
        self.requests: list[dict] = []
        self.rate_limited_count = 0
        self._faults: list[Fault] = []
        self._lock = threading.RLock()
        self._closing = threading.Event()
        self._held = threading.Event()
        self._loopback: Loopback | None = None

    # --- control ------------------------------------------------------------------------

    def start(self) -> FakeNotion:
        self._loopback = Loopback(_handler_for(self))
        return self

    def stop(self) -> None:
        self._closing.set()
        self.release()
        if self._loopback is not None:
            self._loopback.close()

    def __enter__(self) -> FakeNotion:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._loopback is not None, "start() the fake first"
        return self._loopback.origin

    def fail_next(
        self,
        kind: str,
        times: int = 1,
        *,
        op: str = "pages.create",
        retry_after: int = 1,
        delay: float = 3.0,
    ) -> None:
        assert kind in FAILURES or kind in ACCEPTING, f"unknown failure kind {kind!r}"
        with self._lock:
            self._faults.append(Fault(kind, op, times, retry_after, delay))

    def release(self) -> None:
        """Let every held "hang_after_accept" answer go (and any scripted, not yet used)."""
        with self._lock:
            for fault in self._faults:
                fault.released.set()
            self._held.clear()

    def wait_held(self, timeout: float = 10.0) -> bool:
        return self._held.wait(timeout)

    def drop_property(self, name: str) -> None:
        with self._lock:
            super().drop_property(name)

    def count(self, op: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r["op"] == op)

    # --- serving --------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict, headers: dict, raw: bytes) -> tuple:
        """Answer one request: (status, body, extra headers, fault to apply after)."""
        op, object_id = _route(method, path)
        record = {"method": method, "path": path, "op": op, "headers": headers, "body": None}
        with self._lock:
            self.requests.append(record)
        try:
            if headers.get("authorization") != f"Bearer {self.token}":
                raise Answer(401, "unauthorized", "API token is invalid.")
            version = headers.get("notion-version")
            if version is None:
                raise Answer(400, "missing_version", "Notion-Version header should be defined.")
            if version != VERSION:
                raise Answer(400, "validation_error", f"Notion-Version {version!r} is not valid.")
            if len(raw) > MAX_BODY:
                raise Answer(413, "validation_error", "Request body too large.")
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                raise Answer(400, "invalid_json", "Error parsing JSON body.") from None
            record["body"] = body
            fault = self._take_fault(op)
            if fault is not None and fault.kind in FAILURES:
                status, code = FAILURES[fault.kind]
                if fault.kind == "rate_limited":
                    with self._lock:
                        self.rate_limited_count += 1
                record["status"] = status
                body = {"code": code, "message": f"Scripted {fault.kind}."} if code else None
                extra = {"Retry-After": str(fault.retry_after)} if status in (429, 503, 529) else {}
                return status, body, extra, None
            if op is None:
                raise Answer(400, "invalid_request_url", "Invalid request URL.")
            with self._lock:
                result = self.dispatch(op, object_id, body, query)
        except Invalid as error:
            record["status"] = 400
            return (
                400,
                {"code": "validation_error", "message": f"body failed validation: {error}"},
                {},
                None,
            )
        except Answer as answer:
            record["status"] = answer.status
            return answer.status, {"code": answer.code, "message": answer.message}, {}, None
        record["status"] = 200
        return 200, result, {}, fault

    def _take_fault(self, op: str | None) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.op in ("*", op):
                    fault.times -= 1
                    return fault
        return None

    def after(self, fault: Fault | None) -> None:
        """Hold an accepted answer back as scripted."""
        if fault is None or fault.kind not in ACCEPTING:
            return
        if fault.kind == "timeout_after_accept":
            self._closing.wait(fault.delay)
        else:
            self._held.set()
            fault.released.wait()


ROUTES = (  # (method, path parts with "*" for an id, op)
    ("GET", ("users", "me"), "users.me"),
    ("GET", ("databases", "*"), "databases.retrieve"),
    ("GET", ("data_sources", "*"), "data_sources.retrieve"),
    ("PATCH", ("data_sources", "*"), "data_sources.update"),
    ("POST", ("data_sources", "*", "query"), "data_sources.query"),
    ("POST", ("pages",), "pages.create"),
    ("PATCH", ("blocks", "*", "children"), "blocks.children.append"),
    ("GET", ("blocks", "*", "children"), "blocks.children.list"),
)


def _route(method: str, path: str) -> tuple[str | None, str]:
    parts = tuple(p for p in path.split("/") if p)
    if parts[:1] != ("v1",):
        return None, ""
    parts = parts[1:]
    for want_method, pattern, op in ROUTES:
        if (
            method == want_method
            and len(parts) == len(pattern)
            and all(w in ("*", p) for w, p in zip(pattern, parts, strict=True))
        ):
            ids = [p for w, p in zip(pattern, parts, strict=True) if w == "*"]
            return op, ids[0] if ids else ""
    return None, ""


def _handler_for(fake: FakeNotion) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            split = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body, extra, fault = fake.handle(
                self.command, split.path, parse_qs(split.query), headers, raw
            )
            if isinstance(body, dict) and status >= 400:
                body = {
                    "object": "error",
                    "status": status,
                    **body,
                    "request_id": str(uuid.uuid4()),
                }
            if body is None or status == 529:
                data, kind = b"<html><body>Service overloaded</body></html>", "text/html"
            else:
                data, kind = json.dumps(body).encode(), "application/json; charset=utf-8"
            fake.after(fault)
            try:
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                self.close_connection = True  # the client gave up waiting

        do_GET = do_POST = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake_notion(settings):
    """A started FakeNotion (default schema, with "Kiroku ID"); KIROKU_NOTION_API_URL
    points at it."""
    with FakeNotion() as fake:
        settings.KIROKU_NOTION_API_URL = fake.url
        yield fake
