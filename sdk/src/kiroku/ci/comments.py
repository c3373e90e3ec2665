"""One pull request comment per PR and CI step, kept up to date through GitHub's REST
API: found by a hidden marker on its first line, created once, then edited in place.

The comment is found by listing the PR's issue comments (every page). Transient
failures (network errors, 5xx, 429, a rate-limited 403) are retried twice by starting
over from the listing: a POST whose answer was lost may have created the comment,
and listing again finds it instead of posting a duplicate. Any other 4xx is final
and raises ``CommentError`` saying what GitHub answered and how to fix it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import httpx

from kiroku.ci.markdown import text_cut
from kiroku.transport import backoff_delay, retry_after_seconds
from kiroku.version import __version__

MARKER_PREFIX = "<!-- kiroku-report:"
MAX_MARKER_NAME = 100
MAX_BODY = 65_536  # GitHub refuses a longer comment body (characters)
PER_PAGE = 100
MAX_PAGES = 300  # 30,000 comments: past this the PR is not one a person reads
RETRIES = 2
RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 10.0
API_VERSION = "2022-11-28"

_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_UNSAFE_NAME = re.compile(r"[^\w .,:/@+()-]")
_HINTS = {
    401: "check the github-token input (the job's GITHUB_TOKEN)",
    403: "give the job `permissions: pull-requests: write`",
}


def comment_marker(step_name: str) -> str:
    """The hidden first line that marks this step's comment:
    ``<!-- kiroku-report:NAME -->``. The name keeps letters, digits, ``_ .,:/@+()-``
    and single spaces (anything else becomes ``_``), never holds ``--`` (which would
    end the HTML comment), and is cut to 100 characters; an empty name is ``report``.
    Names that differ only in characters made ``_`` share a marker."""
    name = _UNSAFE_NAME.sub("_", " ".join(step_name.split()))
    name = re.sub(r"-{2,}", "-", name)[:MAX_MARKER_NAME].strip()
    return f"{MARKER_PREFIX}{name or 'report'} -->"


@dataclass(frozen=True)
class CommentResult:
    """``action`` is "created", "updated" or "unchanged"; ``url`` the comment's page."""

    action: str
    id: int
    url: str


class CommentError(Exception):
    """GitHub refused the comment, or kept failing. ``status`` is GitHub's last HTTP
    status (None when it could not be reached)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class _Transient(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def comment_upsert(
    *,
    api_url: str,
    token: str,
    repository: str,
    pr: int,
    marker: str,
    body: str,
    create: bool = True,
    timeout: float = 15.0,
) -> CommentResult | None:
    """Create or update the comment on PR ``pr`` of ``repository`` ("owner/name")
    whose first line is ``marker``; ``body`` gets the marker line prepended when it
    does not start with it, and is cut at a line end to GitHub's 65,536 characters.
    An existing comment with the same body is left alone ("unchanged"). With
    ``create=False`` an existing comment is still updated, but none is created:
    None then (``--comment on-change`` when nothing changed).

    Raises CommentError for a refusal (any 4xx but rate limits), for failures that
    outlast the retries, and for a ``repository`` or ``pr`` that cannot be right.
    """
    if not _REPOSITORY.fullmatch(repository):
        raise CommentError(f"repository {repository!r} is not owner/name")
    if isinstance(pr, bool) or not isinstance(pr, int) or pr < 1:
        raise CommentError(f"pull request number {pr!r} is not a positive integer")
    text = body if body.startswith(marker) else f"{marker}\n{body}"
    text = text_cut(text, MAX_BODY)
    base = api_url.rstrip("/")
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": f"kiroku-python/{__version__}",
    }
    with httpx.Client(
        headers=headers,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        follow_redirects=True,  # GitHub redirects the API paths of a renamed repository
    ) as client:
        upsert = _Upsert(client, base, repository, pr, marker, text, create=create)
        for attempt in range(RETRIES + 1):
            try:
                return upsert.once()
            except _Transient as exc:
                if attempt == RETRIES:
                    raise CommentError(
                        f"GitHub kept failing ({exc.message}) after {RETRIES + 1} tries"
                    ) from None
                delay = backoff_delay(
                    attempt,
                    base=RETRY_BASE_SECONDS,
                    maximum=RETRY_MAX_SECONDS,
                    retry_after=exc.retry_after,
                )
                time.sleep(min(delay, RETRY_MAX_SECONDS))
    raise AssertionError("unreachable")  # pragma: no cover


class _Upsert:
    """One find-then-write pass; ``once`` raises _Transient to have it started over."""

    def __init__(
        self,
        client: httpx.Client,
        base: str,
        repository: str,
        pr: int,
        marker: str,
        text: str,
        *,
        create: bool,
    ) -> None:
        self.client = client
        self.base = base
        self.origin = httpx.URL(base)
        self.repository = repository
        self.pr = pr
        self.marker = marker
        self.text = text
        self.create = create
        self.posted = False  # a POST went out whose answer may have been lost

    @property
    def list_url(self) -> str:
        return f"{self.base}/repos/{self.repository}/issues/{self.pr}/comments"

    def once(self) -> CommentResult | None:
        found = self.find()
        if found is None and not self.create:
            return None
        if found is None:
            self.posted = True
            data = self.send("POST", self.list_url, {"body": self.text})
            return _result("created", data)
        if _normalised(found.get("body")) == _normalised(self.text):
            return _result("created" if self.posted else "unchanged", found)
        url = f"{self.base}/repos/{self.repository}/issues/comments/{found['id']}"
        return _result("updated", self.send("PATCH", url, {"body": self.text}))

    def find(self) -> dict[str, Any] | None:
        """The first comment whose body starts with the marker, over every page."""
        url: str | None = self.list_url
        params: dict[str, Any] | None = {"per_page": PER_PAGE}
        for _ in range(MAX_PAGES):
            if url is None:
                return None
            response = self.request("GET", url, params=params)
            page = response.json()
            if not isinstance(page, list):
                raise CommentError("GitHub answered the comment list with something else")
            for comment in page:
                if not isinstance(comment, dict):
                    continue
                body = comment.get("body")
                if isinstance(body, str) and body.lstrip().startswith(self.marker):
                    return comment
            url, params = response.links.get("next", {}).get("url"), None
            if url is not None and not _same_origin(httpx.URL(url), self.origin):
                # The token would go with the request: only ever to the API's own host.
                raise CommentError(f"GitHub's next page is on another host ({url}); stopped")
        raise CommentError(f"the pull request has more than {MAX_PAGES * PER_PAGE} comments")

    def send(self, method: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
        data = self.request(method, url, body=body).json()
        if not isinstance(data, dict) or not isinstance(data.get("id"), int):
            raise CommentError(f"GitHub's answer to {method} has no comment id")
        return data

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> httpx.Response:
        try:
            response = self.client.request(method, url, params=params, json=body)
        except httpx.TransportError as exc:
            raise _Transient(f"cannot reach {self.base}: {exc!r}") from None
        status = response.status_code
        if response.is_success:
            try:
                response.json()
            except ValueError:
                raise _Transient(f"{status} with a body that is not JSON") from None
            return response
        message = _github_message(response)
        if status == 429 or status >= 500 or _rate_limited(response):
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            raise _Transient(f"{status}: {message}", retry_after)
        hint = _HINTS.get(status)
        if status == 404:
            hint = (
                f"check that {self.repository} has pull request #{self.pr} "
                "and that the token can read it"
            )
        text = f"GitHub refused the comment ({status}: {message})"
        raise CommentError(f"{text}; {hint}" if hint else text, status=status)


def _result(action: str, comment: dict[str, Any]) -> CommentResult:
    return CommentResult(action=action, id=comment["id"], url=str(comment.get("html_url", "")))


def _normalised(body: Any) -> str:
    return body.replace("\r\n", "\n") if isinstance(body, str) else ""


def _same_origin(url: httpx.URL, origin: httpx.URL) -> bool:
    return (url.scheme, url.host, url.port) == (origin.scheme, origin.host, origin.port)


def _rate_limited(response: httpx.Response) -> bool:
    """GitHub answers an exceeded (secondary) rate limit with 403 too; these carry
    Retry-After or an exhausted x-ratelimit-remaining."""
    return response.status_code == 403 and (
        "Retry-After" in response.headers or response.headers.get("x-ratelimit-remaining") == "0"
    )


def _github_message(response: httpx.Response) -> str:
    """GitHub's ``message`` (and a 422's field errors), or the status's reason."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return response.reason_phrase or "error"
    message: str = data["message"]
    errors = data.get("errors")
    if isinstance(errors, list):
        details = [
            str(e.get("message") or f"{e.get('field')} {e.get('code')}")
            for e in errors
            if isinstance(e, dict)
        ]
        if details:
            message += ": " + "; ".join(details)
    return message
