"""Listing a run's artifacts and downloading them into a folder.

The server is not trusted here: whatever names it lists, nothing is written outside
the target folder. A name is refused (listed in the result, and skipped) when it is
absolute, has a drive letter, a ``.``, ``..`` or empty segment, a backslash or a
control character, is not under the requested path, or would land outside the
folder through a symlink already in it (each parent folder is resolved and checked
before anything is created in it). Files are written to a temporary name in their
folder (opened with ``O_EXCL`` and ``O_NOFOLLOW``), checked against the listing's
size and sha256, and only then renamed into place; a mismatch deletes them.

The bytes come from the URL that ``GET /artifacts/{id}/download`` redirects to,
fetched with a client that never carries the token (it may be S3, or the server's
own ``/store/...``, whose ticket is the credential).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import httpx

from kiroku.artifacts.storage import absolute_url, answer_reply, error_body, storage_client
from kiroku.errors import InvalidInput, KirokuError, NotFound
from kiroku.progress import ProgressLine
from kiroku.transport import Reply, response_reply, retry_delay
from kiroku.version import __version__

if TYPE_CHECKING:
    from kiroku.api import Api

logger = logging.getLogger("kiroku")

PROGRESS_BYTES = 64 * 1024 * 1024
MAX_ATTEMPTS = 4  # per file: transient failures and expired URLs
_ID = re.compile(r"^[0-9a-f]{32}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)
_OPEN_FLAGS = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
)


@dataclass
class DownloadResult:
    """``written``: the files written (absolute paths); ``refused``: ``(name, why)``
    for each name refused as unsafe; ``failed``: ``(name, why)`` for each file that
    could not be downloaded or did not match its size or sha256 (nothing is left of
    it); ``bytes``: the bytes written."""

    written: list[Path] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    bytes: int = 0

    @property
    def ok(self) -> bool:
        return not self.refused and not self.failed


class PathRefused(Exception):
    """A path from the server would lead outside the target folder."""


def name_problem(name: Any) -> str | None:
    """Why a name from the server must not become a path on this machine, or None."""
    if not isinstance(name, str) or not name:
        return "empty or not a string"
    if _CONTROL.search(name):
        return "control characters"
    if "\\" in name:
        return "a backslash"
    if name.startswith("/") or _DRIVE.match(name):
        return "an absolute path"
    segments = name.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        return "an empty, '.' or '..' segment"
    if os.name == "nt" and (
        ":" in name or any(_WINDOWS_RESERVED.match(s) or s.endswith((".", " ")) for s in segments)
    ):
        return "a name Windows would read as a device, a drive or a stream"
    return None


def folder_inside(root: Path, segments: list[str]) -> Path:
    """The folder ``root/<segments>`` (``root`` resolved), created one level at a
    time; each level (an existing symlink included) is resolved and must be inside
    ``root`` before anything is created in it. Raises PathRefused, or OSError."""
    current = root
    for segment in segments:
        candidate = current / segment
        with contextlib.suppress(FileExistsError):  # never creates through a symlink
            os.mkdir(candidate)
        resolved = candidate.resolve()
        if not resolved.is_relative_to(root):
            raise PathRefused(f"{candidate} leads outside {root}")
        if not resolved.is_dir():
            raise OSError(f"{candidate} exists and is not a folder")
        current = resolved
    return current


def list_artifacts(
    api: Api, run_id: str, path: str | None = None, *, recursive: bool = True
) -> list[dict[str, Any]]:
    """The entries of ``GET /runs/{run_id}/artifacts`` under ``path`` (default: the
    root), every page: files (and, unless ``recursive``, folders) as the server
    describes them. Raises the read API's errors (NotFound, AuthError...)."""
    params: dict[str, Any] = {"recursive": "true" if recursive else "false", "page_size": 1000}
    if path:
        params["path"] = path
    entries: list[dict[str, Any]] = []
    cursors: set[str] = set()
    while True:
        page = api.get(f"/runs/{run_id}/artifacts", params)
        entries += [e for e in page.get("entries") or [] if isinstance(e, dict)]
        cursor = page.get("next")
        if not cursor:
            return entries
        if not isinstance(cursor, str) or cursor in cursors:
            raise InvalidInput("the server's artifact listing repeats a page; stopped there")
        cursors.add(cursor)
        params["cursor"] = cursor


def download_artifacts(
    api: Api,
    run_id: str,
    path: str | None = None,
    dir: str | os.PathLike[str] = ".",
    *,
    progress: bool = True,
) -> DownloadResult:
    """Download every file under the artifact path ``path`` (default: all) into
    ``dir``, at its path below ``path`` (``path`` naming one file: as its basename).
    A progress line is shown on stderr above 64 MiB when ``progress``.

    Refused names and failed files are in the result and logged, not raised. Raises
    NotFound when nothing is under ``path``, and the read API's errors."""
    prefix = (path or "").strip("/")
    try:
        entries = list_artifacts(api, run_id, prefix or None)
    except NotFound:
        if not prefix:
            raise
        entries = []
    if prefix and not entries:  # maybe ``path`` names a file rather than a folder
        parent = prefix.rpartition("/")[0]
        listed = list_artifacts(api, run_id, parent or None, recursive=False)
        entries = [e for e in listed if e.get("path") == prefix and e.get("type") == "file"]
        if not entries:
            raise NotFound(f"run {run_id} has no artifact at {prefix!r}", status=404)
    root = Path(dir)
    root.mkdir(parents=True, exist_ok=True)
    result = DownloadResult()
    with _Downloader(api, root.resolve(), result) as downloader:
        plan = downloader.plan(entries, prefix)
        total = sum(entry["size"] for entry, _segments in plan)
        if progress and total >= PROGRESS_BYTES:
            downloader.progress = ProgressLine("kiroku: downloading artifacts", total, unit="bytes")
        for entry, segments in plan:
            downloader.fetch(entry, segments)
        if downloader.progress is not None:
            downloader.progress.update(result.bytes)
            downloader.progress.close()
    for name, why in result.refused[:10]:
        logger.warning("kiroku: refused the artifact name %r: %s", name, why)
    if len(result.refused) > 10:
        logger.warning("kiroku: refused %d more artifact names", len(result.refused) - 10)
    for name, why in result.failed[:10]:
        logger.warning("kiroku: artifact %r not downloaded: %s", name, why)
    return result


class _Downloader:
    def __init__(self, api: Api, root: Path, result: DownloadResult) -> None:
        self.settings = api.settings
        self.root = root
        self.result = result
        self.progress: ProgressLine | None = None
        headers = {"User-Agent": f"kiroku-python/{__version__}"}
        if self.settings.token:
            headers["Authorization"] = f"Bearer {self.settings.token}"
        # Only for the redirect itself: it is never followed with these headers.
        self._api = httpx.Client(
            base_url=self.settings.api_url,
            headers=headers,
            timeout=httpx.Timeout(self.settings.timeout, connect=min(self.settings.timeout, 5.0)),
            follow_redirects=False,
        )
        self._storage = storage_client(self.settings, follow_redirects=True)

    def __enter__(self) -> _Downloader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._api.close()
        self._storage.close()

    def plan(
        self, entries: list[dict[str, Any]], prefix: str
    ) -> list[tuple[dict[str, Any], list[str]]]:
        """``(entry, path segments below dir)`` of each file to download; refuses the
        rest into the result."""
        plan: list[tuple[dict[str, Any], list[str]]] = []
        taken: set[str] = set()
        for entry in entries:
            if entry.get("type", "file") != "file":
                continue
            name = entry.get("path")
            problem = name_problem(name)
            if problem is not None or not isinstance(name, str):
                self.result.refused.append((str(name), problem or "refused"))
                continue
            relative = name
            if prefix:
                if name == prefix:
                    relative = name.rpartition("/")[2]
                elif name.startswith(prefix + "/"):
                    relative = name[len(prefix) + 1 :]
                else:
                    problem = f"not under the requested path {prefix!r}"
            if problem is None and relative in taken:
                problem = "listed twice"
            if problem is not None:
                self.result.refused.append((name, problem))
                continue
            size, sha256 = entry.get("size"), entry.get("sha256")
            if not (
                _ID.fullmatch(str(entry.get("id")))
                and isinstance(size, int)
                and not isinstance(size, bool)
                and size >= 0
                and isinstance(sha256, str)
                and _SHA256.fullmatch(sha256)
            ):
                self.result.failed.append((name, "the listing's id, size or sha256 is malformed"))
                continue
            taken.add(relative)
            plan.append((entry, relative.split("/")))
        return plan

    def fetch(self, entry: dict[str, Any], segments: list[str]) -> None:
        name = entry["path"]
        try:
            parent = self._parent(segments[:-1])
        except PathRefused as refused:
            self.result.refused.append((name, str(refused)))
            return
        except OSError as exc:
            self.result.failed.append((name, f"cannot create its folder: {exc}"))
            return
        target = parent / segments[-1]
        try:
            self._download(entry, target)
        except (KirokuError, OSError) as exc:
            self.result.failed.append((name, getattr(exc, "message", None) or str(exc)))
            return
        self.result.written.append(target)

    def _parent(self, segments: list[str]) -> Path:
        return folder_inside(self.root, segments)

    def _download(self, entry: dict[str, Any], target: Path) -> None:
        """Download into a temporary file next to ``target``, check it, rename it into
        place. Raises KirokuError or OSError, leaving nothing behind."""
        temp = target.parent / f".kiroku-{secrets.token_hex(8)}.part"
        attempt = 0
        while True:
            fd = os.open(temp, _OPEN_FLAGS, 0o666)
            try:
                with os.fdopen(fd, "wb") as handle:
                    reply, retry = self._fetch_into(entry, handle)
                if reply.ok:
                    os.replace(temp, target)  # a symlink at target is replaced, not followed
                    return
            finally:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
            if not retry or attempt + 1 >= MAX_ATTEMPTS:
                raise reply.error()
            delay = retry_delay(self.settings, attempt, reply)
            logger.debug("kiroku: downloading %r: %s; retrying", entry["path"], reply.describe())
            time.sleep(delay)
            attempt += 1

    def _fetch_into(self, entry: dict[str, Any], handle: BinaryIO) -> tuple[Reply, bool]:
        """One try: a fresh download URL, then its bytes into ``handle``, counted and
        hashed. Returns how it went and whether another try may help. More bytes than
        listed, or a size or sha256 that does not match, raise InvalidInput."""
        try:
            answer = self._api.get(f"/artifacts/{entry['id']}/download")
        except httpx.TransportError as exc:
            return Reply(None, message=f"cannot reach {self.settings.url}: {exc!r}"), True
        location = answer.headers.get("Location")
        if not answer.is_redirect or not location:
            reply = response_reply(answer)
            if reply.ok:
                raise InvalidInput(f"the server answered HTTP {answer.status_code}, not a redirect")
            return reply, reply.transient
        try:
            url = absolute_url(str(answer.url), location)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        expected, digest, size = entry["size"], hashlib.sha256(), 0
        try:
            with self._storage.stream("GET", url) as response:
                if not response.is_success:
                    reply = answer_reply(response, error_body(response))
                    # 403: the URL expired on the way; the next try gets a fresh one.
                    return reply, reply.transient or reply.status == 403
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > expected:
                        raise InvalidInput(
                            f"the storage sent more than the listed {expected} bytes"
                        )
                    digest.update(chunk)
                    handle.write(chunk)
                    if self.progress is not None:
                        self.progress.update(self.result.bytes + size)
        except httpx.TransportError as exc:
            return Reply(None, message=f"download failed: {exc!r}"), True
        if size != expected:
            raise InvalidInput(f"got {size} bytes, the listing says {expected}")
        if digest.hexdigest() != entry["sha256"]:
            raise InvalidInput("its sha256 does not match the listing's (deleted)")
        self.result.bytes += size
        return Reply(200), False
