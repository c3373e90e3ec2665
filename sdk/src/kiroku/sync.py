"""``kiroku sync``: upload spool files left by offline runs or by runs that could not
reach the server. Records go in ``seq`` order; each one delivered is acknowledged in
the file at once, so an interrupted sync resumes where it stopped, and ``batch_id``s
make a re-send of an unacknowledged batch harmless. A fully delivered spool moves to
``synced/``, so syncing again does nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from kiroku.delivery import Deliverer
from kiroku.progress import ProgressLine
from kiroku.report import Reporter
from kiroku.settings import Settings
from kiroku.spool import (
    SpoolBusy,
    SpoolState,
    lock_acquire,
    lock_release,
    mark_synced,
    spool_list,
    spool_read,
    synced_prune,
)
from kiroku.transport import Transport, json_bytes, retry_delay

MAX_ATTEMPTS = 6  # per record; transient failures beyond that stop this file's sync


@dataclass
class SyncResult:
    path: Path
    run_id: str | None = None
    records: int = 0
    points: int = 0
    finished: bool = False
    complete: bool = False
    error: str | None = None
    skipped: str | None = None
    auth_error: bool = False


def sync(
    settings: Settings,
    target: Path | None = None,
    *,
    reporter: Reporter | None = None,
    progress: bool = True,
) -> list[SyncResult]:
    """Sync every unsynced spool under ``target`` (a file or folder; default the
    settings' spool folder), oldest run first."""
    reporter = reporter or Reporter()
    target = target or settings.spool_dir
    states: list[SpoolState] = []
    for path in spool_list(target):
        try:
            states.append(spool_read(path))
        except OSError as exc:
            reporter.once(f"read:{path}", f"cannot read {path}: {exc}")
    ordered = sorted(states, key=lambda s: (s.created, s.path.name))
    results = [_sync_one(settings, s.path, reporter, progress) for s in ordered]
    if target.is_dir():
        synced_prune(target)
    return results


def _sync_one(settings: Settings, path: Path, reporter: Reporter, progress: bool) -> SyncResult:
    result = SyncResult(path=path)
    try:
        lock = lock_acquire(path)
    except SpoolBusy as exc:
        result.skipped = str(exc)
        return result
    try:
        state = spool_read(path)  # again, under the lock
        if state.create is None:
            result.error = "no create record: not a Kiroku spool, or its first line is damaged"
            return result
        url = settings.url or state.create.get("url")
        transport = Transport(replace(settings, url=url))
        try:
            _deliver_all(transport, state, result, reporter, progress)
        finally:
            transport.close()
        result.finished = state.has_finish
    finally:
        lock_release(lock, path)
    if result.complete:
        mark_synced(path)
    return result


def _deliver_all(
    transport: Transport,
    state: SpoolState,
    result: SyncResult,
    reporter: Reporter,
    progress: bool,
) -> None:
    deliverer = Deliverer(transport, reporter)
    run_id = state.run_id
    pending = state.pending
    bar = None
    if progress and pending:
        label = f"kiroku: syncing {state.project}/{state.name or state.path.stem}"
        bar = ProgressLine(label, state.pending_points)
    with open(state.path, "ab") as acks:
        for record in pending:
            attempt = 0
            while True:
                outcome = deliverer.deliver(record, run_id)
                if outcome.done or outcome.halt or attempt + 1 >= MAX_ATTEMPTS:
                    break
                time.sleep(retry_delay(transport.settings, attempt, outcome.reply))
                attempt += 1
            if not outcome.done:
                result.error = outcome.reply.describe()
                result.auth_error = outcome.reply.status in (401, 403)
                break
            if outcome.run_id is not None:
                run_id = outcome.run_id
            ack = {"kind": "ack", "seq": record["seq"]}
            if outcome.run_id is not None:
                ack["run_id"] = outcome.run_id
            acks.write(json_bytes(ack) + b"\n")
            acks.flush()
            result.records += 1
            result.points += int(record.get("points", 0))
            if bar is not None:
                bar.update(result.points)
        else:
            result.complete = True
    if not pending:
        result.complete = True
    if bar is not None:
        bar.close()
    result.run_id = run_id
