"""Content hashes of named dataset paths, computed off the training thread and cached.

The digest of a directory is ``sha256:`` over a manifest with one line per regular
file, in sorted order of the path relative to the directory (``/``-separated)::

    <relative path>\\t<size in bytes>\\t<sha256 of the content, hex>\\n

(a backslash, tab or newline in a path is written ``\\\\``, ``\\t``, ``\\n``). A single
file's digest is ``sha256:`` of its content, so a file and a directory holding only
that file differ. Symbolic links are followed (a directory reached twice is read
once, so a link cycle ends); sockets, FIFOs and devices are skipped, since reading
them could block forever.

Each file's content hash is cached in ``<cache_dir>/dataset-hashes.sqlite3`` under its
absolute path, with its size and modification time in nanoseconds; while those are
unchanged the file is only ``stat``-ed, so hashing an unchanged 10 GB directory again
costs one ``stat`` and one indexed lookup per file. Rows of files that were deleted
stay until the cache file is removed; they cost a few bytes each.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import sqlite3
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kiroku.capture._process import clean_text, log

CACHE_FILE = "dataset-hashes.sqlite3"
CHUNK = 1024 * 1024
MAX_URI = 1000
_COMMIT_EVERY = 1000  # new hashes per cache transaction


class _Aborted(Exception):
    pass


class DatasetHasher:
    """Hashes dataset paths on one background daemon thread, one path at a time, in
    the order submitted. The thread is started by the first ``submit`` and runs at a
    lower CPU priority where the platform allows it per thread (Linux)."""

    def __init__(self, cache_dir: Path) -> None:
        self._cache_path = Path(cache_dir) / CACHE_FILE
        self._jobs: queue.SimpleQueue[tuple[str, str, Callable[[dict[str, Any]], None]] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._abort = threading.Event()

    def submit(self, name: str, path: str, on_done: Callable[[dict[str, Any]], None]) -> None:
        """Queue ``path`` and return at once. ``on_done`` is later called on the hashing
        thread with ``{"name", "uri", "digest", "size", "file_count", "source"}``:
        ``uri`` is the absolute path, ``source`` is ``"local"``. When the path cannot
        be read, the same dict comes with an empty ``digest`` and ``size`` and
        ``file_count`` None (and a warning is logged), so the run still names it. A URL
        (``s3://bucket/x``) is not read: ``uri`` is the URL, ``source`` its scheme.
        After ``shutdown`` a submit is ignored. Never raises."""
        with self._lock:
            if self._closed:
                log.debug("dataset %r submitted after shutdown; ignored", name)
                return
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="kiroku-dataset-hasher", daemon=True
                )
                self._thread.start()
            self._jobs.put((name, path, on_done))

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> None:
        """Stop taking work. With ``wait``, let queued paths finish for up to
        ``timeout`` seconds (None: no limit); whatever is still running then (or at
        once, without ``wait``) stops at its next chunk, and its ``on_done`` is not
        called. Idempotent; never raises."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._jobs.put(None)
            thread = self._thread
        if thread is None:
            return
        if wait:
            thread.join(timeout)
        if not wait or thread.is_alive():
            self._abort.set()

    # --- the hashing thread ----------------------------------------------------------

    def _work(self) -> None:
        _lower_thread_priority()
        cache = _Cache.open(self._cache_path)
        try:
            while not self._abort.is_set():
                job = self._jobs.get()
                if job is None:
                    return
                name, path, on_done = job
                try:
                    result = self._describe(name, path, cache)
                except _Aborted:
                    return
                try:
                    on_done(result)
                except Exception:  # the caller's callback must not kill the thread
                    log.debug("dataset %r: on_done raised", name, exc_info=True)
        finally:
            if cache is not None:
                cache.close()

    def _describe(self, name: str, path: str, cache: _Cache | None) -> dict[str, Any]:
        scheme, sep, _ = path.partition("://")
        if sep and scheme.isidentifier():
            return _record(name, path, "", None, None, source=scheme.lower())
        absolute = os.path.abspath(os.path.expanduser(path))
        started = time.monotonic()
        try:
            digest, size, count = hash_path(Path(absolute), cache=cache, abort=self._abort)
        except _Aborted:
            raise
        except OSError as exc:
            log.warning("kiroku: dataset %r (%s) not hashed: %s", name, path, exc)
            return _record(name, absolute, "", None, None)
        log.debug(
            "dataset %r: %d files, %d bytes hashed in %.2f s",
            name,
            count,
            size,
            time.monotonic() - started,
        )
        return _record(name, absolute, digest, size, count)


def _record(
    name: str, uri: str, digest: str, size: int | None, count: int | None, source: str = "local"
) -> dict[str, Any]:
    return {
        "name": name,
        "uri": clean_text(uri)[:MAX_URI],
        "digest": digest,
        "size": size,
        "file_count": count,
        "source": source,
    }


def hash_path(
    path: Path, *, cache: _Cache | None = None, abort: threading.Event | None = None
) -> tuple[str, int, int]:
    """``(digest, total bytes, file count)`` of a file or directory (see the module
    docstring). Raises ``OSError`` when ``path`` or a file under it cannot be read."""
    abort = abort or threading.Event()
    info = os.stat(path)
    if stat.S_ISREG(info.st_mode):
        return "sha256:" + _cached_sha256(str(path), info, cache, abort), info.st_size, 1
    if not stat.S_ISDIR(info.st_mode):
        raise OSError(f"{path} is neither a file nor a directory")
    manifest = hashlib.sha256()
    total = count = 0
    try:
        for relative, absolute, file_info in _walk(str(path)):
            sha = _cached_sha256(absolute, file_info, cache, abort)
            manifest.update(f"{_escape(relative)}\t{file_info.st_size}\t{sha}\n".encode())
            total += file_info.st_size
            count += 1
    finally:
        if cache is not None:
            cache.commit()
    return "sha256:" + manifest.hexdigest(), total, count


def _walk(root: str) -> Iterator[tuple[str, str, os.stat_result]]:
    """Regular files under ``root`` as (relative path, absolute path, stat), in sorted
    order of the relative path: each directory's entries are sorted by name with a
    ``/`` after a directory's name, which makes depth-first order the sorted order."""
    info = os.stat(root)
    yield from _walk_directory("", root, {(info.st_dev, info.st_ino)})


def _walk_directory(
    prefix: str, directory: str, seen: set[tuple[int, int]]
) -> Iterator[tuple[str, str, os.stat_result]]:
    entries: list[tuple[str, str, os.stat_result, bool]] = []
    with os.scandir(directory) as listing:
        for entry in listing:
            try:
                info = entry.stat(follow_symlinks=True)
            except OSError:
                log.debug("dataset: skipping %s (broken link or vanished)", entry.path)
                continue
            is_dir = stat.S_ISDIR(info.st_mode)
            if is_dir or stat.S_ISREG(info.st_mode):
                entries.append((entry.name, entry.path, info, is_dir))
    entries.sort(key=lambda item: item[0] + "/" if item[3] else item[0])
    for name, full, info, is_dir in entries:
        if not is_dir:
            yield f"{prefix}{name}", full, info
            continue
        # Marked on the way down, in sorted order: a directory linked twice is read
        # under its first name, and a link back to an ancestor ends the descent.
        identity = (info.st_dev, info.st_ino)
        if identity in seen:
            continue
        seen.add(identity)
        yield from _walk_directory(f"{prefix}{name}/", full, seen)


def _escape(relative: str) -> str:
    return relative.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _cached_sha256(
    path: str, info: os.stat_result, cache: _Cache | None, abort: threading.Event
) -> str:
    if cache is not None:
        hit = cache.get(path, info.st_size, info.st_mtime_ns)
        if hit is not None:
            return hit
    sha, after = file_sha256(path, abort)
    if cache is not None and (after.st_size, after.st_mtime_ns) == (info.st_size, info.st_mtime_ns):
        cache.put(path, info.st_size, info.st_mtime_ns, sha)
    return sha


def file_sha256(path: str, abort: threading.Event | None = None) -> tuple[str, os.stat_result]:
    """The hex sha256 of a file's content and its ``stat`` once read (a file that
    changed while it was read is not cached). Raises ``OSError``."""
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while read := handle.readinto(buffer):
            digest.update(view[:read])  # releases the GIL: the training thread runs on
            if abort is not None and abort.is_set():
                raise _Aborted
        after = os.fstat(handle.fileno())
    return digest.hexdigest(), after


class _Cache:
    """(absolute path, size, mtime_ns) → sha256, in SQLite. Any database error turns
    the cache off for the rest of the thread's life: hashing goes on without it."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db: sqlite3.Connection | None = connection
        self._pending = 0

    @classmethod
    def open(cls, path: Path) -> _Cache | None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=10, isolation_level="DEFERRED")
            db.execute(
                "CREATE TABLE IF NOT EXISTS file_hash ("
                " path TEXT PRIMARY KEY, size INTEGER NOT NULL,"
                " mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL)"
            )
            db.commit()
        except (sqlite3.Error, OSError) as exc:
            log.debug("dataset hash cache %s unavailable: %s", path, exc)
            return None
        return cls(db)

    def get(self, path: str, size: int, mtime_ns: int) -> str | None:
        if self._db is None:
            return None
        try:
            row = self._db.execute(
                "SELECT sha256 FROM file_hash WHERE path = ? AND size = ? AND mtime_ns = ?",
                (_key(path), size, mtime_ns),
            ).fetchone()
        except sqlite3.Error as exc:
            self._fail(exc)
            return None
        return row[0] if row else None

    def put(self, path: str, size: int, mtime_ns: int, sha: str) -> None:
        if self._db is None:
            return
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO file_hash (path, size, mtime_ns, sha256)"
                " VALUES (?, ?, ?, ?)",
                (_key(path), size, mtime_ns, sha),
            )
        except sqlite3.Error as exc:
            self._fail(exc)
            return
        self._pending += 1
        if self._pending >= _COMMIT_EVERY:
            self.commit()

    def commit(self) -> None:
        if self._db is None or not self._pending:
            return
        try:
            self._db.commit()
        except sqlite3.Error as exc:  # another process holds the lock too long: skip
            self._fail(exc)
        self._pending = 0

    def close(self) -> None:
        self.commit()
        if self._db is not None:
            self._db.close()
            self._db = None

    def _fail(self, exc: sqlite3.Error) -> None:
        log.debug("dataset hash cache off: %s", exc)
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
        self._db = None


def _key(path: str) -> str:
    # File names that are not valid UTF-8 arrive with surrogate escapes; keep them exact.
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _lower_thread_priority() -> None:
    """Hashing competes with the data loader for CPU; on Linux a thread has its own nice
    value, so raise only this thread's. (Elsewhere the call would reach the process or,
    with a thread id, another process: leave it.)"""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
