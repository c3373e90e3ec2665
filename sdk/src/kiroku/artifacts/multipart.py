"""One multipart upload: per-part hashes with the server's part size, part URLs from
``POST /artifacts/{id}/parts``, every part PUT in parallel on the uploader's part
workers, and the completion body with each part's ETag.

The per-part hashes take a second pass over the file: the part size is the server's
answer to the declaration, which carries the whole file's hash. A part that fails
is retried alone (the others are not sent again). A part URL refused with 403 has
expired: a fresh one is asked for that part only (``"numbers": [n]``). When one part
fails for good the file has failed, and the parts not sent yet are not sent.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kiroku.artifacts.files import LocalFile, part_ranges, parts_sha256
from kiroku.artifacts.storage import MAX_REFUSED_PUTS, Failed
from kiroku.errors import InvalidInput, KirokuError

if TYPE_CHECKING:
    from kiroku.artifacts.upload import Uploader

logger = logging.getLogger("kiroku")


@dataclass
class _Parts:
    """What the file's worker and its part jobs share."""

    artifact_id: str
    file: LocalFile
    hashes: list[str]
    ranges: list[tuple[int, int]]
    urls: dict[int, dict[str, Any]] = field(default_factory=dict)
    etags: dict[int, str] = field(default_factory=dict)
    error: KirokuError | None = None
    left: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)

    def settle(self, number: int, etag: str | None, error: KirokuError | None) -> None:
        with self.changed:
            if etag is not None:
                self.etags[number] = etag
            if error is not None and self.error is None:
                self.error = error
            self.left -= 1
            self.changed.notify_all()


def upload_parts(
    uploader: Uploader, artifact_id: str, file: LocalFile, size: int, upload: dict[str, Any]
) -> list[dict[str, Any]]:
    """Upload every part of ``file`` (``size`` bytes, as declared) as the server's
    ``upload`` plan says; returns the completion body's ``parts``. Raises Failed
    (from the uploader) when a part fails for good; ValueError, KeyError or TypeError
    for an answer that does not fit the protocol."""
    part_size = int(upload["part_size"])
    ranges = part_ranges(size, part_size, int(upload["part_count"]))
    try:
        hashes = parts_sha256(file.path, size, part_size, lambda: uploader.stopping)
    except InterruptedError:
        raise uploader.stopped() from None
    except OSError as exc:
        raise Failed(InvalidInput(f"cannot read {file.path}: {exc}")) from exc
    state = _Parts(artifact_id, file, hashes, ranges, left=len(ranges))
    state.urls = _part_urls(uploader, state, None)
    for number in range(1, len(ranges) + 1):
        uploader.queue_part(functools.partial(_part_job, uploader, state, number))
    with state.changed:
        while state.left:
            state.changed.wait()
    if state.error is not None:
        raise Failed(state.error)
    return [{"number": n, "etag": state.etags[n]} for n in range(1, len(ranges) + 1)]


def _part_urls(
    uploader: Uploader, state: _Parts, numbers: list[int] | None
) -> dict[int, dict[str, Any]]:
    body: dict[str, Any] = {"sha256": state.hashes}  # all of them, always
    if numbers is not None:
        body["numbers"] = numbers
    answer = uploader.call("POST", f"/artifacts/{state.artifact_id}/parts", body)
    urls = {int(part["number"]): part for part in answer["parts"]}
    wanted = numbers if numbers is not None else range(1, len(state.ranges) + 1)
    if any(not isinstance(urls.get(n, {}).get("url"), str) for n in wanted):
        raise ValueError("the server's /parts answer lacks a part's URL")
    return urls


def _part_job(uploader: Uploader, state: _Parts, number: int) -> None:
    """Runs on a part worker; settles the part whatever happens."""
    etag = error = None
    try:
        etag = _put_part(uploader, state, number)
    except Failed as failed:
        error = failed.error
    except (KeyError, TypeError, ValueError) as exc:
        error = InvalidInput(f"unexpected answer from the server: {exc!r}")
    except Exception as exc:  # a bug must not leave the file's worker waiting forever
        logger.error("kiroku: internal error uploading part %d", number, exc_info=True)
        error = KirokuError(f"internal error: {exc!r}")
    state.settle(number, etag, error)


def _put_part(uploader: Uploader, state: _Parts, number: int) -> str:
    offset, length = state.ranges[number - 1]
    part = state.urls[number]
    attempt = refused = 0
    while True:
        if state.error is not None:  # another part failed for good, and so the file
            raise Failed(state.error)
        if uploader.stopping:
            raise uploader.stopped()
        headers = dict(part.get("headers") or {})
        reply, etag = uploader.put(str(part["url"]), headers, state.file.path, offset, length)
        if reply.ok:
            if not etag:
                raise Failed(
                    InvalidInput(
                        f"the storage answered part {number} without an ETag (a proxy or "
                        "CORS setting hides it)"
                    )
                )
            return etag
        if reply.status == 403:
            refused += 1
            if refused >= MAX_REFUSED_PUTS:
                raise Failed(
                    InvalidInput(f"the storage keeps refusing part {number} ({reply.describe()})")
                )
            part = _part_urls(uploader, state, [number])[number]  # expired: a fresh URL
            continue
        if not reply.transient:
            raise Failed(InvalidInput(f"the storage refused part {number} ({reply.describe()})"))
        uploader.backoff(attempt, reply)
        attempt += 1
