"""The spool: an append-only JSON-lines file of requests not yet delivered.

One file per run per process, ``<KIROKU_DIR>/spool/<client_id>.<session>.jsonl``.
Each line is one JSON object:

- ``{"kind": "create", "seq": 0, "project": slug, "url": server, "resume": mode,
  "created": unix_seconds, "body": {...run-create body, with client_id...}}`` (first line)
- ``{"kind": "log", "seq": n, "points": count, "body": {"batch_id": ..., ...}}``
- ``{"kind": "finish", "seq": n, "body": {"status": ..., "ended_at": ...}}``
- ``{"kind": "ack", "seq": n}``: record ``n`` was delivered (or refused for good and
  dropped); the create's ack carries ``"run_id"``.

Records are replayed in ``seq`` order, which is the order the run produced them
(a batch that was in flight when later data was spooled is written after it but keeps
its lower ``seq``). Every log record carries its ``batch_id``, so a replay after a
partial send writes nothing twice. A torn last line (a crash mid-write) is ignored.

The process writing a spool holds an exclusive ``flock`` on ``<name>.lock``; ``kiroku
sync`` takes the same lock, so it never races a live run. A spool with every record
acknowledged is moved to ``spool/synced/``.
"""

from __future__ import annotations

import heapq
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

try:  # POSIX; elsewhere spools are not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

from kiroku.transport import json_bytes

SUFFIX = ".jsonl"
SYNCED = "synced"


class SpoolBusy(Exception):
    """Another process holds the spool's lock (a live run, or another sync)."""


def lock_acquire(path: Path) -> BinaryIO | None:
    """Take the exclusive lock for the spool at ``path`` without waiting. Returns the
    open lock file (keep it open to hold the lock). Raises SpoolBusy."""
    if fcntl is None:  # pragma: no cover
        return None
    handle = open(path.with_suffix(".lock"), "ab")  # noqa: SIM115 (held open on purpose)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise SpoolBusy(f"{path.name} is in use by a running process") from None
    return handle


def lock_release(handle: BinaryIO | None, path: Path) -> None:
    if handle is None:
        return
    path.with_suffix(".lock").unlink(missing_ok=True)
    handle.close()


def mark_synced(path: Path) -> Path:
    """Move a fully delivered spool to ``synced/``; returns the new path."""
    target_dir = path.parent / SYNCED
    target_dir.mkdir(exist_ok=True)
    target = target_dir / path.name
    os.replace(path, target)
    return target


class Spool:
    """The live run's spool, opened on first use. Called with the sender's lock held."""

    def __init__(self, directory: Path, name: str, create: dict[str, Any]) -> None:
        self.path = directory / f"{name}{SUFFIX}"
        self._create = create
        self._file: BinaryIO | None = None
        self._reader: BinaryIO | None = None
        self._lock: BinaryIO | None = None
        self._offsets: dict[int, int] = {}
        self._heap: list[int] = []
        self._points: dict[int, int] = {}
        self.pending_points = 0

    @property
    def opened(self) -> bool:
        return self._file is not None

    def open(self, run_id: str | None) -> None:
        """Create the file with the run-create record (acknowledged with ``run_id``
        when the run already exists on the server)."""
        if self._file is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = lock_acquire(self.path)
        self._file = open(self.path, "ab")  # noqa: SIM115 (lives as long as the run)
        self._reader = open(self.path, "rb")  # noqa: SIM115
        self.append(self._create)
        if run_id is not None:
            self.ack(0, run_id=run_id)

    def has_pending(self) -> bool:
        return bool(self._heap)

    def is_pending(self, seq: int) -> bool:
        return seq in self._offsets

    def append(self, record: dict[str, Any]) -> None:
        assert self._file is not None, "open() the spool first"
        offset = self._file.tell()
        self._file.write(json_bytes(record) + b"\n")
        self._file.flush()
        seq = record["seq"]
        self._offsets[seq] = offset
        heapq.heappush(self._heap, seq)
        points = int(record.get("points", 0))
        self._points[seq] = points
        self.pending_points += points

    def first_pending(self) -> dict[str, Any] | None:
        """The pending record with the lowest ``seq``, read back from disk."""
        if not self._heap or self._reader is None:
            return None
        self._reader.seek(self._offsets[self._heap[0]])
        record: dict[str, Any] = json.loads(self._reader.readline())
        return record

    def ack(self, seq: int, *, run_id: str | None = None) -> None:
        assert self._file is not None
        line: dict[str, Any] = {"kind": "ack", "seq": seq}
        if run_id is not None:
            line["run_id"] = run_id
        self._file.write(json_bytes(line) + b"\n")
        self._file.flush()
        if self._offsets.pop(seq, None) is not None:
            self.pending_points -= self._points.pop(seq, 0)
            if self._heap[0] == seq:
                heapq.heappop(self._heap)
            else:  # rare: a record acknowledged out of order
                self._heap.remove(seq)
                heapq.heapify(self._heap)

    def close(self) -> bool:
        """Sync to disk and release the lock. A spool with nothing pending moves to
        ``synced/``. Returns True when something is left to sync."""
        if self._file is None:
            return False
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if self._reader is not None:
            self._reader.close()
        left = bool(self._heap)
        if not left:
            mark_synced(self.path)
        lock_release(self._lock, self.path)
        self._file = None
        return left


@dataclass
class SpoolState:
    """What a spool file holds, as ``kiroku sync`` and ``kiroku status`` read it."""

    path: Path
    create: dict[str, Any] | None = None
    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    acked: set[int] = field(default_factory=set)
    run_id: str | None = None
    torn_lines: int = 0

    @property
    def pending(self) -> list[dict[str, Any]]:
        return [self.records[s] for s in sorted(self.records) if s not in self.acked]

    @property
    def pending_points(self) -> int:
        return sum(int(r.get("points", 0)) for r in self.pending)

    @property
    def has_finish(self) -> bool:
        return any(r["kind"] == "finish" for r in self.records.values())

    @property
    def created(self) -> float:
        return float((self.create or {}).get("created", 0.0))

    @property
    def project(self) -> str:
        return str((self.create or {}).get("project", "?"))

    @property
    def name(self) -> str:
        return str(((self.create or {}).get("body") or {}).get("name") or "")


def spool_read(path: Path) -> SpoolState:
    """Parse a spool file. Lines that do not parse (a torn write) are counted and
    skipped."""
    state = SpoolState(path=path)
    with open(path, "rb") as handle:
        for raw in handle:
            try:
                line = json.loads(raw)
                kind = line["kind"]
                seq = int(line["seq"])
            except (ValueError, KeyError, TypeError):
                state.torn_lines += 1
                continue
            if kind == "ack":
                state.acked.add(seq)
                if line.get("run_id"):
                    state.run_id = str(line["run_id"])
                continue
            if kind == "create":
                state.create = line
            state.records[seq] = line
    return state


def spool_list(directory: Path) -> list[Path]:
    """Unsynced spool files in ``directory`` (or ``[directory]`` for a file), oldest first."""
    if directory.is_file():
        return [directory]
    if not directory.is_dir():
        return []
    return sorted(directory.glob(f"*{SUFFIX}"), key=lambda p: (p.stat().st_mtime, p.name))


def synced_prune(directory: Path, *, older_than_days: float = 7.0) -> None:
    """Forget synced spools after a week: their data is on the server."""
    synced = directory / SYNCED
    if not synced.is_dir():
        return
    cutoff = time.time() - older_than_days * 86400
    for path in synced.glob(f"*{SUFFIX}"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
