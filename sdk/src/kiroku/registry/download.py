"""Downloading a model version into a folder, checked end to end.

The server lists the version's files (``GET .../versions/{n}/files``: the manifest,
its digest, and a short-lived presigned URL per file). Before any byte is fetched, the
manifest must hash to the version's ``manifest_digest`` and every listed file must
match its manifest entry; a manifest path that is absolute, has a ``..`` segment or
would land outside the folder is refused. Each file is then fetched (with a client that
never carries the token) into a private staging folder inside the target, counted and
hashed as it arrives; only when every file matches are they moved into place. Any
mismatch raises IntegrityError and the staging folder is removed, so no file of the
version is left that was not verified.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from kiroku.artifacts.download import (
    MAX_ATTEMPTS,
    PROGRESS_BYTES,
    DownloadResult,
    PathRefused,
    folder_inside,
    name_problem,
)
from kiroku.artifacts.storage import absolute_url, answer_reply, error_body, storage_client
from kiroku.errors import (
    IntegrityError,
    InvalidInput,
    KirokuError,
    NotFound,
    Unreachable,
    error_for_status,
)
from kiroku.progress import ProgressLine
from kiroku.transport import Reply, retry_delay

if TYPE_CHECKING:
    from kiroku.api import Api
    from kiroku.registry.versions import ModelVersion

logger = logging.getLogger("kiroku")

_HEX = frozenset("0123456789abcdef")


def manifest_digest(manifest: Sequence[Mapping[str, Any]]) -> str:
    """The sha256 (hex) of the canonical JSON of ``manifest``: the entries sorted by
    path, each with sorted keys, no spaces (``separators=(",", ":")``), non-ASCII
    characters escaped as ``\\uXXXX``."""
    return _digest(manifest, ensure_ascii=True)


def manifest_digest_matches(manifest: Sequence[Mapping[str, Any]], digest: str) -> bool:
    """Whether ``manifest`` hashes to ``digest``. Non-ASCII paths are accepted written
    either escaped or as UTF-8: "canonical JSON" is read both ways, and either way the
    digest pins the same entries."""
    if manifest_digest(manifest) == digest:
        return True
    return _digest(manifest, ensure_ascii=False) == digest


def _digest(manifest: Sequence[Mapping[str, Any]], *, ensure_ascii: bool) -> str:
    ordered = sorted(manifest, key=lambda entry: str(entry.get("path")))
    text = json.dumps(ordered, sort_keys=True, separators=(",", ":"), ensure_ascii=ensure_ascii)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class _File:
    path: str
    size: int
    sha256: str
    url: str

    @property
    def segments(self) -> list[str]:
        return self.path.split("/")


def _is_sha256(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


def _is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def files_path(version: ModelVersion) -> str:
    from kiroku.registry.versions import models_path

    return f"{models_path(version.project, version.model)}/versions/{version.version}/files"


def files_checked(api: Api, version: ModelVersion) -> list[_File]:
    """The version's files as the server lists them now, each checked against the
    manifest, and the manifest against the version's digest. Raises IntegrityError
    (nothing is downloaded then), InvalidInput for a malformed answer."""
    what = f"model version {version.ref}"
    try:
        answer = api.get(files_path(version))
    except NotFound as error:
        raise api.not_found_explained(version.project, error, what) from None
    if not isinstance(answer, dict):
        raise InvalidInput(f"unexpected answer from the server for the files of {version.ref}")
    manifest, listed = answer.get("manifest"), answer.get("files")
    if not isinstance(manifest, list) or not all(isinstance(e, dict) for e in manifest):
        raise IntegrityError(f"{version.ref}: the server sent no manifest; nothing downloaded")
    if not isinstance(listed, list) or not all(isinstance(e, dict) for e in listed):
        raise InvalidInput(f"unexpected answer from the server for the files of {version.ref}")
    pinned = version.manifest_digest
    if answer.get("manifest_digest") != pinned or not manifest_digest_matches(manifest, pinned):
        raise IntegrityError(
            f"{version.ref}: the manifest the server sent does not match the version's "
            f"manifest digest {pinned[:12] or '(none)'}; nothing downloaded"
        )
    entries: dict[str, Mapping[str, Any]] = {}
    for entry in manifest:
        path = entry.get("path")
        problem = name_problem(path)
        if problem is not None or not isinstance(path, str):
            raise IntegrityError(
                f"{version.ref}: refused the manifest path {path!r}: {problem}; nothing downloaded"
            )
        if path in entries:
            raise IntegrityError(f"{version.ref}: the manifest lists {path!r} twice")
        if not _is_size(entry.get("size")) or not _is_sha256(entry.get("sha256")):
            raise IntegrityError(f"{version.ref}: the manifest's size or sha256 of {path!r}")
        entries[path] = entry
    folders = {"/".join(p.split("/")[:i]) for p in entries for i in range(1, p.count("/") + 1)}
    if clash := sorted(folders & entries.keys()):
        raise IntegrityError(f"{version.ref}: the manifest lists {clash[0]!r} as file and folder")
    files: dict[str, _File] = {}
    for item in listed:
        path, url = item.get("path"), item.get("url")
        entry = entries.get(path) if isinstance(path, str) else None
        if entry is None or not isinstance(path, str):
            raise IntegrityError(f"{version.ref}: the server lists {path!r}, not in the manifest")
        if (item.get("size"), item.get("sha256")) != (entry["size"], entry["sha256"]):
            raise IntegrityError(
                f"{version.ref}: the listed size or sha256 of {path!r} differs from the manifest"
            )
        if path in files or not isinstance(url, str) or not url:
            raise IntegrityError(f"{version.ref}: {path!r} is listed twice or without a URL")
        files[path] = _File(path, entry["size"], entry["sha256"], url)
    if missing := sorted(entries.keys() - files.keys()):
        raise IntegrityError(f"{version.ref}: the server lists no URL for {missing[0]!r}")
    return [files[path] for path in sorted(files)]


def version_download(
    api: Api, version: ModelVersion, dir: str | os.PathLike[str], *, progress: bool = True
) -> DownloadResult:
    """Download ``version``'s files into ``dir`` (created if needed), each at its
    manifest path; returns ``written`` (absolute paths, in manifest order) and
    ``bytes`` (``refused`` and ``failed`` stay empty: every problem raises).

    Raises IntegrityError for a file, listing or manifest that does not match, or a
    path that would land outside ``dir``; InvalidInput for a version that is not READY;
    the read API's errors, and OSError from the file system. Nothing of the version is
    left in ``dir`` after a mismatch."""
    from kiroku.registry.versions import READY

    if version.status != READY:
        raise InvalidInput(
            f"{version.ref} is {version.status or 'not registered'}, not {READY}: it has no "
            "files to download yet"
        )
    files = files_checked(api, version)
    root = Path(dir)
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    total = sum(file.size for file in files)
    result = DownloadResult()
    # Inside the target, so the final moves are renames on one file system; 0700.
    staging = Path(tempfile.mkdtemp(prefix=".kiroku-model-", dir=root))
    try:
        line = None
        if progress and total >= PROGRESS_BYTES:
            line = ProgressLine(f"kiroku: downloading {version.ref}", total, unit="bytes")
        with storage_client(api.settings, follow_redirects=True) as client:
            fetcher = _Fetcher(api, version, client, line)
            for index, file in enumerate(files):
                fetcher.fetch(file, staging / f"{index}.part")
        if line is not None:
            line.close()
        targets = [_target(root, version, file) for file in files]
        for index, target in enumerate(targets):
            os.replace(staging / f"{index}.part", target)  # a symlink there is replaced
            result.written.append(target)
        result.bytes = total
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _target(root: Path, version: ModelVersion, file: _File) -> Path:
    """Where ``file`` goes: its folder created inside ``root``, no folder in its way."""
    try:
        parent = folder_inside(root, file.segments[:-1])
    except PathRefused as refused:
        raise IntegrityError(
            f"{version.ref}: refused {file.path!r}: {refused}; nothing installed"
        ) from None
    target = parent / file.segments[-1]
    if target.is_dir() and not target.is_symlink():
        raise OSError(f"{target} is a folder; {version.ref} has a file there")
    return target


class _Fetcher:
    """Fetches files into the staging folder: transient failures are retried, and an
    expired URL (403) is replaced with a fresh one from a new listing."""

    def __init__(
        self, api: Api, version: ModelVersion, client: httpx.Client, line: ProgressLine | None
    ) -> None:
        self.api = api
        self.version = version
        self.client = client
        self.line = line
        self.done = 0

    def fetch(self, file: _File, temp: Path) -> None:
        url, attempt = file.url, 0
        while True:
            reply = self._fetch_into(file, url, temp)
            if reply.ok:
                self.done += file.size
                return
            if attempt + 1 >= MAX_ATTEMPTS or not (reply.transient or reply.status == 403):
                raise self._error(file, reply)
            delay = retry_delay(self.api.settings, attempt, reply)
            logger.debug("kiroku: downloading %r: %s; retrying", file.path, reply.describe())
            time.sleep(delay)
            attempt += 1
            if reply.status == 403:
                url = self._fresh_url(file)

    def _error(self, file: _File, reply: Reply) -> KirokuError:
        message = f"{self.version.ref}: downloading {file.path!r} failed: {reply.describe()}"
        if reply.status is None:
            return Unreachable(message)
        return error_for_status(reply.status, message, reply.code, reply.field)

    def _fresh_url(self, file: _File) -> str:
        for fresh in files_checked(self.api, self.version):
            if fresh.path == file.path:
                return fresh.url
        raise IntegrityError(f"{self.version.ref}: {file.path!r} is no longer listed")

    def _fetch_into(self, file: _File, url: str, temp: Path) -> Reply:
        """One try, into ``temp`` (truncated first). Raises IntegrityError when the
        bytes do not match the manifest."""
        try:
            full = absolute_url(self.api.settings.url, url)
        except ValueError as exc:
            raise IntegrityError(f"{self.version.ref}: {file.path!r}: {exc}") from None
        digest, size = hashlib.sha256(), 0
        count: Callable[[int], None] = (
            self.line.update if self.line is not None else lambda _done: None
        )
        try:
            with open(temp, "wb") as handle, self.client.stream("GET", full) as response:
                if not response.is_success:
                    return answer_reply(response, error_body(response))
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > file.size:
                        raise IntegrityError(
                            f"{self.version.ref}: {file.path!r}: the storage sent more than "
                            f"the manifest's {file.size} bytes; nothing installed"
                        )
                    digest.update(chunk)
                    handle.write(chunk)
                    count(self.done + size)
        except httpx.TransportError as exc:
            return Reply(None, message=f"download failed: {exc!r}")
        if size != file.size:
            raise IntegrityError(
                f"{self.version.ref}: {file.path!r}: got {size} bytes, the manifest says "
                f"{file.size}; nothing installed"
            )
        if digest.hexdigest() != file.sha256:
            raise IntegrityError(
                f"{self.version.ref}: {file.path!r}: its sha256 does not match the manifest; "
                "nothing installed"
            )
        return Reply(200)
