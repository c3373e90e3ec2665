"""The HTTP side of the fake Slack API: how a call arrives (path ``/api/<method>``,
query string, JSON or form body, bearer token) and how answers and scripted failures
go back (JSON, 429 with ``Retry-After``, an HTML error page)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.notifications.fake_slack_checks import SlackError

ACCEPT_KINDS = ("timeout_after_accept", "hang_after_accept")


@dataclass
class Script:
    """A scripted answer for the next ``remaining`` calls of ``method``."""

    method: str
    kind: str
    remaining: int
    retry_after: int
    status: int


class SlackHandler(BaseHTTPRequestHandler):
    """Parses Slack Web API calls (query, JSON or form body; bearer token) for a
    ``FakeSlack`` and writes its answers."""

    fake: Any
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._serve(self.rfile.read(length) if length else b"")

    def _params(self, body: bytes) -> dict[str, Any]:
        query = urlsplit(self.path).query
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if not body:
            return params
        if content_type == "application/json":
            try:
                data = json.loads(body)
            except ValueError:
                raise SlackError("invalid_json") from None
            if not isinstance(data, dict):
                raise SlackError("invalid_json")
            params.update(data)
        elif content_type == "application/x-www-form-urlencoded":
            params.update({k: v[-1] for k, v in parse_qs(body.decode()).items()})
        else:
            raise SlackError("invalid_form_data")
        return params

    def _serve(self, body: bytes) -> None:
        fake = self.fake
        path = urlsplit(self.path).path
        if not path.startswith("/api/"):
            self._send(404, {"ok": False, "error": "unknown_method"})
            return
        method = path[len("/api/") :]
        authorization = self.headers.get("Authorization") or ""
        token = authorization[len("Bearer ") :] if authorization.startswith("Bearer ") else ""
        script = fake.script_for(method)
        if script is not None and script.kind not in ACCEPT_KINDS:
            self._scripted(method, script)
            return
        try:
            answer, status, headers = fake.handle(method, self._params(body), token), 200, {}
        except SlackError as exc:
            headers = {}
            if exc.status == 429:
                headers["Retry-After"] = str(exc.extra.pop("retry_after", 1))
            answer, status = {"ok": False, "error": exc.error, **exc.extra}, exc.status
        if script is not None and answer.get("ok"):
            fake.hold_answer(script)
        self._send(status, answer, headers)

    def _scripted(self, method: str, script: Script) -> None:
        self.fake.record(method, {}, rate_limited=script.kind == "rate_limited")
        if script.kind == "rate_limited":
            headers = {"Retry-After": str(script.retry_after)}
            self._send(429, {"ok": False, "error": "ratelimited"}, headers)
        elif script.kind == "server_error":
            page = b"<html><body><h1>Service Unavailable</h1></body></html>"
            self._send_raw(script.status, page, "text/html; charset=utf-8", {})
        else:
            self._send(200, {"ok": False, "error": script.kind})

    def _send(self, status: int, answer: dict[str, Any], headers: dict[str, str] | None = None):
        body = json.dumps(answer).encode()
        self._send_raw(status, body, "application/json; charset=utf-8", headers or {})

    def _send_raw(self, status: int, body: bytes, content_type: str, headers: dict[str, str]):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout) before the answer
