"""A loopback HTTP proxy in front of the live server that can be told to misbehave.

Rules are matched in order against each request (by path substring); the first with
uses left applies:

- ``Rule("status", status=503)``: answer that status without forwarding (with
  ``retry_after`` as the ``Retry-After`` header).
- ``Rule("hang_after_forward", hang=2.0)``: forward the request (the server commits
  it), then hold the answer back for ``hang`` seconds and drop the connection, so the
  client times out on a request that succeeded.
- ``Rule("drop")``: close the connection without an answer.

``after=n`` lets the first ``n`` matching requests through before a rule applies.

``refuse()`` closes the listening socket (connections are refused) and ``accept()``
opens it again on the same port. Every request is recorded with what was done and,
for forwarded ones, the server's answer.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Rule:
    action: str  # "status" | "hang_after_forward" | "drop"
    path: str = ""
    status: int = 503
    retry_after: str | None = None
    hang: float = 0.0
    times: int | None = None  # None: until removed
    after: int = 0  # let this many matching requests through first


@dataclass
class Seen:
    at: float  # time.monotonic() when the request arrived
    method: str
    path: str
    action: str  # "forward" or the rule's action
    body: Any = None
    status: int | None = None  # what the client was answered (None: nothing)
    upstream: Any = None  # the server's JSON answer, when forwarded
    answered_at: float | None = None


@dataclass
class FaultProxy:
    upstream: str
    rules: list[Rule] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        self._host, self._port = parts.hostname or "localhost", parts.port or 80
        self._lock = threading.Lock()
        self._refusing = False
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.accept()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def requests(self, path: str = "") -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if path in s.path]

    def _match(self, path: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.path in path and rule.after > 0:
                    rule.after -= 1
                    return None
                if rule.path in path and (rule.times is None or rule.times > 0):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None

    def refuse(self) -> None:
        self._refusing = True
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def accept(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if proxy._refusing:
                    self.close_connection = True
                    return
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                seen = Seen(time.monotonic(), self.command, self.path, "forward", body)
                with proxy._lock:
                    proxy.seen.append(seen)
                rule = proxy._match(self.path)
                if rule is not None and rule.action == "drop":
                    seen.action = "drop"
                    self.close_connection = True
                    return
                if rule is not None and rule.action == "status":
                    seen.action = "status"
                    self._answer(
                        seen,
                        rule.status,
                        json.dumps(
                            {"error": {"code": "injected", "message": "injected", "field": None}}
                        ).encode(),
                        {"Retry-After": rule.retry_after} if rule.retry_after else {},
                    )
                    return
                status, headers, payload = proxy._forward(
                    self.command, self.path, self.headers, raw
                )
                try:
                    seen.upstream = json.loads(payload) if payload else None
                except ValueError:
                    seen.upstream = None
                if rule is not None and rule.action == "hang_after_forward":
                    seen.action = "hang_after_forward"
                    time.sleep(rule.hang)
                    self.close_connection = True
                    return
                self._answer(seen, status, payload, headers)

            def _answer(self, seen: Seen, status: int, payload: bytes, headers: dict) -> None:
                seen.status = status
                seen.answered_at = time.monotonic()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._refusing = False
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def _forward(self, method: str, path: str, headers: Any, raw: bytes) -> tuple[int, dict, bytes]:
        connection = http.client.HTTPConnection(self._host, self._port, timeout=30)
        try:
            forwarded = {
                k: v for k, v in headers.items() if k.lower() not in ("host", "connection")
            }
            forwarded["Host"] = f"{self._host}:{self._port}"
            connection.request(method, path, body=raw or None, headers=forwarded)
            response = connection.getresponse()
            payload = response.read()
            keep = {
                k: v
                for k, v in response.getheaders()
                if k.lower() in ("retry-after", "www-authenticate")
            }
            return response.status, keep, payload
        finally:
            connection.close()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def dead_url() -> str:
    """A loopback URL where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
