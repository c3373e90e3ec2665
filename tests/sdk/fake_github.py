"""A loopback GitHub REST API for issue (pull request) comments, checked the way
GitHub checks them, for the tests of ``kiroku.ci.comments``.

Serves ``GET`` and ``POST {prefix}/repos/{owner}/{repo}/issues/{number}/comments``
(``per_page`` up to 100, ``page``; a ``Link`` header with ``next``/``last``/``prev``/
``first``) and ``PATCH {prefix}/repos/{owner}/{repo}/issues/comments/{id}``. ``prefix``
is "" (github.com) or, say, "/api/v3" (GitHub Enterprise Server).

Checks, with GitHub's answers: a ``User-Agent`` header (403); ``Authorization:
Bearer <t>`` or ``token <t>`` with a known token (401 "Requires authentication" /
"Bad credentials"); a known repository and issue (404 "Not Found"); a write with a
token in ``read_only_tokens`` (403 "Resource not accessible by integration"); a JSON
object body with a string ``body`` of at most 65,536 characters (400 "Problems
parsing JSON", 422 "Validation Failed" with ``errors``).

Scripting: ``fail_next(n, status=502, retry_after=None)`` answers the next ``n``
requests with that status. Every request is recorded (``requests``), answered or not.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.loopback import Loopback

TOKEN = "ghs_test"
BOT_LOGIN = "github-actions[bot]"
MAX_BODY = 65_536
DOCS = "https://docs.github.com/rest"

_LIST = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
_ONE = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")


class GitHubError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"message": message, **extra, "documentation_url": DOCS}


@dataclass
class Recorded:
    """One request as it arrived; ``headers`` has lower-case names."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None


@dataclass
class Comment:
    id: int
    repo: str
    number: int
    body: str
    login: str
    created_at: datetime
    updated_at: datetime

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "node_id": f"IC_kw{self.id}",
            "url": f"https://api.github.com/repos/{self.repo}/issues/comments/{self.id}",
            "html_url": f"https://github.com/{self.repo}/pull/{self.number}#issuecomment-{self.id}",
            "issue_url": f"https://api.github.com/repos/{self.repo}/issues/{self.number}",
            "body": self.body,
            "user": {"login": self.login, "type": "Bot" if "[bot]" in self.login else "User"},
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "author_association": "NONE",
        }


@dataclass
class _Script:
    remaining: int
    status: int
    retry_after: int | None


@dataclass
class FakeGitHub:
    """The fake API; use as a context manager or through the ``fake_github`` fixture.
    ``url`` is its API base (``http://127.0.0.1:PORT{prefix}``)."""

    prefix: str = ""
    tokens: set[str] = field(default_factory=lambda: {TOKEN})
    read_only_tokens: set[str] = field(default_factory=set)
    issues: set[tuple[str, int]] = field(default_factory=set)
    comments: list[Comment] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._next_id = 1_000_001
        self._clock = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
        self._scripts: list[_Script] = []
        self._loopback: Loopback | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> FakeGitHub:
        self._loopback = Loopback(type("Handler", (_Handler,), {"fake": self}))
        return self

    def stop(self) -> None:
        if self._loopback is not None:
            self._loopback.close()

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._loopback is not None, "start() the fake first"
        return self._loopback.origin + self.prefix

    # -- seeding and scripting -----------------------------------------------------

    def add_issue(self, repo: str, number: int) -> None:
        with self._lock:
            self.issues.add((repo, number))

    def add_comment(self, repo: str, number: int, body: str, login: str = "someone") -> Comment:
        with self._lock:
            if (repo, number) not in self.issues:
                raise KeyError(f"add_issue({repo!r}, {number}) first")
            now = self._tick()
            comment = Comment(self._next_id, repo, number, body, login, now, now)
            self._next_id += 1
            self.comments.append(comment)
            return comment

    def fail_next(self, n: int, status: int = 502, *, retry_after: int | None = None) -> None:
        with self._lock:
            self._scripts.append(_Script(n, status, retry_after))

    def on(self, repo: str, number: int) -> list[Comment]:
        """The comments of one issue, oldest first."""
        with self._lock:
            return [c for c in self.comments if (c.repo, c.number) == (repo, number)]

    def calls(self, method: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == method]

    # -- the API -------------------------------------------------------------------

    def scripted(self) -> _Script | None:
        with self._lock:
            for script in self._scripts:
                if script.remaining > 0:
                    script.remaining -= 1
                    return script
            return None

    def handle(self, request: Recorded, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON answer, extra headers) for one request; GitHubError for a refusal."""
        if not request.path.startswith(self.prefix + "/"):
            raise GitHubError(404, "Not Found")
        path = request.path[len(self.prefix) :]
        if not request.headers.get("user-agent"):
            raise GitHubError(
                403,
                "Request forbidden by administrative rules. "
                "Please make sure your request has a User-Agent header",
            )
        token = self._token(request.headers.get("authorization", ""))
        with self._lock:
            if (match := _LIST.match(path)) is not None:
                repo, number = match.group(1), int(match.group(2))
                self._issue(repo, number)
                if request.method == "GET":
                    return self._list(repo, number, request)
                if request.method == "POST":
                    self._writable(token)
                    return 201, self._create(repo, number, _comment_body(raw)).render(), {}
            elif (match := _ONE.match(path)) is not None:
                repo, comment_id = match.group(1), int(match.group(2))
                comment = self._comment(repo, comment_id)
                if request.method == "GET":
                    return 200, comment.render(), {}
                if request.method == "PATCH":
                    self._writable(token)
                    comment.body = _comment_body(raw)
                    comment.updated_at = self._tick()
                    return 200, comment.render(), {}
            else:
                raise GitHubError(404, "Not Found")
        raise GitHubError(404, "Not Found")  # GitHub answers an unrouted method so too

    def _token(self, authorization: str) -> str:
        scheme, _, token = authorization.partition(" ")
        if not authorization:
            raise GitHubError(401, "Requires authentication")
        if scheme.lower() not in ("bearer", "token") or token.strip() not in self.tokens:
            raise GitHubError(401, "Bad credentials")
        return token.strip()

    def _writable(self, token: str) -> None:
        if token in self.read_only_tokens:
            raise GitHubError(403, "Resource not accessible by integration")

    def _issue(self, repo: str, number: int) -> None:
        if (repo, number) not in self.issues:
            raise GitHubError(404, "Not Found")

    def _comment(self, repo: str, comment_id: int) -> Comment:
        for comment in self.comments:
            if comment.id == comment_id and comment.repo == repo:
                return comment
        raise GitHubError(404, "Not Found")

    def _create(self, repo: str, number: int, body: str) -> Comment:
        return self.add_comment(repo, number, body, login=BOT_LOGIN)

    def _list(
        self, repo: str, number: int, request: Recorded
    ) -> tuple[int, list[dict[str, Any]], dict[str, str]]:
        try:
            per_page = min(max(int(request.query.get("per_page", 30)), 1), 100)
            page = max(int(request.query.get("page", 1)), 1)
        except ValueError:
            per_page, page = 30, 1  # GitHub ignores a malformed number
        items = self.on(repo, number)
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        base = f"{self.url}{request.path[len(self.prefix) :]}"

        def link(target: int, rel: str) -> str:
            query = urlencode({**request.query, "per_page": per_page, "page": target})
            return f'<{base}?{query}>; rel="{rel}"'

        if page > 1:
            links += [link(page - 1, "prev"), link(1, "first")]
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        headers = {"Link": ", ".join(links)} if links else {}
        return 200, [c.render() for c in chunk], headers

    def _tick(self) -> datetime:
        self._clock += timedelta(seconds=1)
        return self._clock


def _comment_body(raw: bytes) -> str:
    try:
        data = json.loads(raw or b"")
    except ValueError:
        raise GitHubError(400, "Problems parsing JSON") from None
    if not isinstance(data, dict):
        raise GitHubError(400, "Problems parsing JSON")
    body = data.get("body")
    if body is None:
        raise GitHubError(
            422,
            "Validation Failed",
            errors=[{"resource": "IssueComment", "code": "missing_field", "field": "body"}],
        )
    if not isinstance(body, str):
        raise GitHubError(
            422,
            f"Invalid request.\n\nFor 'properties/body', {json.dumps(body)} is not a string.",
        )
    if len(body) > MAX_BODY:
        raise GitHubError(
            422,
            "Validation Failed",
            errors=[
                {
                    "resource": "IssueComment",
                    "code": "custom",
                    "field": "body",
                    "message": f"body is too long (maximum is {MAX_BODY} characters)",
                }
            ],
        )
    return body


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGitHub
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm each answer would
    # wait out the client's delayed ACK (40 ms).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        request = Recorded(
            method=self.command,
            path=parts.path,
            query={k: v[-1] for k, v in parse_qs(parts.query).items()},
            headers={k.lower(): v for k, v in self.headers.items()},
            json=parsed,
        )
        fake = self.fake
        with fake._lock:
            fake.requests.append(request)
        script = fake.scripted()
        if script is not None:
            headers = {"Retry-After": str(script.retry_after)} if script.retry_after else {}
            self._send(script.status, {"message": "Server Error"}, headers)
            return
        try:
            status, answer, headers = fake.handle(request, raw)
        except GitHubError as exc:
            status, answer, headers = exc.status, exc.body, {}
        self._send(status, answer, headers)

    def _send(self, status: int, answer: Any, headers: dict[str, str]) -> None:
        body = json.dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A started ``FakeGitHub`` that knows the token ``ghs_test`` (no issues yet)."""
    with FakeGitHub() as fake:
        yield fake
