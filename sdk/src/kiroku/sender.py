"""The background sender: the one thread that talks to the server for a live run.

``Run.log()`` appends ``(key, value, step, timestamp)`` tuples to ``Sender.points`` (a
deque: appends are atomic, so the training thread never takes a lock). Params, tags,
summary values and datasets wait in ``Meta`` and travel in their own small batches.

Every batch gets a sequence number when it is taken, and that order is kept
everywhere, on the wire and in the spool. States:

- ``online``: batches go to the server. A transient failure is retried with backoff;
  while it lasts, a backlog above ``spill_points`` goes to the spool.
- ``spooling``: the server has failed for ``spool_after`` seconds. Everything goes to
  the spool; the oldest spooled record is retried with backoff, and the first success
  returns to ``online``, which drains the spool before anything newer.
- ``halted``: the server refused the token or the run (401/403/404). Everything goes
  to the spool, for ``kiroku sync`` once that is fixed.
- ``offline``: ``mode="offline"``; everything goes to the spool.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from kiroku.batches import Meta, Pending, Point, points_take
from kiroku.delivery import Deliverer, Outcome
from kiroku.progress import ProgressLine
from kiroku.report import Reporter
from kiroku.settings import Settings
from kiroku.spool import Spool, SpoolBusy
from kiroku.transport import Transport, retry_delay

logger = logging.getLogger("kiroku")


class Sender:
    """Owns the queue, the spool and the thread. ``create`` is the spool's create record
    (seq 0); ``run_id`` is None when the run still has to be created."""

    def __init__(
        self,
        *,
        settings: Settings,
        transport: Transport | None,
        reporter: Reporter,
        create: dict[str, Any],
        run_id: str | None,
        session: str,
        on_run_id: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.points: deque[Point] = deque()
        self.meta = Meta()
        self.run_id = run_id
        self.reporter = reporter
        self.state = "online" if transport is not None else "offline"
        self.sent_points = 0
        self.spool_left = False
        self._transport = transport
        self._deliverer = Deliverer(transport, reporter) if transport is not None else None
        self._session = session
        self._on_run_id = on_run_id
        # Re-entrant: a SIGTERM handler may run finish() while the main thread is
        # inside a spill.
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._done = threading.Event()
        self._seq = 1
        self._current: Pending | None = None if run_id else Pending(0, create)
        self._finish_body: dict[str, Any] | None = None
        self._finish_taken = False
        self._finish_sent = False
        self._stopping = False
        self._failed_while_stopping = False
        self._abort = False
        self._closed = False
        self._bug_reported = False
        self._failing_since: float | None = None
        self._attempt = 0
        self._retry_at = 0.0
        self._last_contact = time.monotonic()
        self._key_bytes: dict[str, int] = {}
        body = create["body"]
        self.spool = Spool(settings.spool_dir, f"{body['client_id']}.{session}", create)
        self._thread = threading.Thread(target=self._loop, name="kiroku-sender", daemon=True)
        self._thread.start()

    # -- called from the training thread -------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def meta_add(self, field: str, values: dict[str, Any]) -> None:
        with self._lock:
            self.meta.waiting[field].update(values)

    def overflow(self) -> None:
        """The queue passed ``max_queue_points``: the sender is stuck (a hanging request)
        or far behind. Move one batch to disk, from the caller's thread: a pause of a
        few milliseconds every ``max_batch_points`` calls instead of one long stall.
        When the sender thread holds the lock it is already moving the backlog: the
        caller goes on rather than wait for it, until the queue is a whole batch past
        the limit (a starved sender thread must not let memory grow without bound)."""
        hard_limit = self.settings.max_queue_points + self.settings.max_batch_points
        if not self._lock.acquire(blocking=len(self.points) > hard_limit):
            return
        try:
            if len(self.points) <= self.settings.max_queue_points:
                return  # the sender got there first
            if self._spill(final=False, max_records=2):
                return
            excess = len(self.points) - self.settings.max_queue_points
            if excess > 0:  # the spool cannot be written either: memory must stay bounded
                for _ in range(excess):
                    self.points.popleft()
                self.reporter.once(
                    "overflow",
                    f"the queue is full and the spool cannot be written; dropped {excess} "
                    "of the oldest points (later drops are counted, not shown)",
                )
        finally:
            self._lock.release()

    @property
    def finish_sent(self) -> bool:
        """Whether the server has the run's finish."""
        return self._finish_sent

    def backlog(self) -> int:
        """Points not yet delivered: in memory, in flight and in the spool."""
        current = self._current.points if self._current and not self._current.spooled else 0
        return len(self.points) + current + self.spool.pending_points

    def close(self, finish_body: dict[str, Any] | None, timeout: float) -> bool:
        """Send what is left and then ``finish_body`` (None: no finish, e.g. in a
        forked child), waiting at most ``timeout`` seconds; what is not delivered by
        then is spooled. Returns True when everything reached the server."""
        with self._lock:
            self._finish_body = finish_body
            self._finish_taken = finish_body is None
            self._stopping = True
            # Try the server once more now rather than at the end of a long backoff.
            self._retry_at = 0.0
        self._wake.set()
        start_sent, total = self.sent_points, self.backlog()
        offline = self.state == "offline"
        label = "kiroku: saving to the spool" if offline else "kiroku: uploading"
        shown = total >= 50_000 and not self.settings.quiet
        progress = ProgressLine(label, total) if shown else None

        def done() -> int:
            return total - len(self.points) if offline else self.sent_points - start_sent

        deadline = time.monotonic() + timeout
        while not self._done.wait(0.25):
            if progress is not None:
                progress.update(done())
            if time.monotonic() >= deadline:
                break
        if not self._done.is_set():
            self._abort = True
            self._wake.set()
            self._done.wait(self.settings.timeout + 5)
        if not self._done.is_set():  # the thread is stuck in a request past its timeout
            with self._lock:
                self._closed = True  # whatever that request brings back is ignored
                self._spill(final=True)
                self._spool_close()
        if progress is not None:
            progress.update(done())
            progress.close()
        if self._transport is not None:
            self._transport.close()
        return self._finish_sent and not self.spool_left

    # -- the thread ------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            self._wake.wait(self._wait_time())
            self._wake.clear()
            try:
                self._pump()
                self._heartbeat()
            except Exception:  # a bug must not kill the thread and lose the queue
                if not self._bug_reported:
                    self._bug_reported = True
                    logger.error("kiroku: internal error in the sender; going on", exc_info=True)
                time.sleep(self.settings.flush_interval)
            if self._closed:
                break
            if self._abort or self._closing():
                with self._lock:
                    if not self._closed:
                        self._closed = True
                        self._spill(final=True)
                        self._spool_close()
                break
        self._done.set()

    def _spool_close(self) -> None:
        try:
            self.spool_left = self.spool.close()
            if self.spool_left and self.state == "offline":
                # Shown like a warning so it is seen: the run exists only in this file.
                self.reporter.once(
                    "offline",
                    f"offline run saved in {self.spool.path}; upload it with `kiroku sync`",
                )
            elif self.spool_left:
                self.reporter.once(
                    "spooled",
                    f"not everything reached the server; it is saved in {self.spool.path} — "
                    "run `kiroku sync` to upload it",
                )
        except OSError as exc:
            self.reporter.once("spool-error", f"cannot close the spool {self.spool.path}: {exc}")

    def _closing(self) -> bool:
        """Whether the loop may stop once ``close()`` asked it to."""
        if not self._stopping:
            return False
        if self._finish_sent:
            return True
        if self.state == "spooling":
            # The server got one more try after close(); if that failed too, finish()
            # must not wait out a long outage: the spool keeps everything.
            return self._failed_while_stopping
        if self.state != "online":
            return True
        return self._finish_body is None and not self._has_memory() and self._current is None

    def _has_memory(self) -> bool:
        return bool(self.points) or bool(self.meta) or self.spool.has_pending()

    def _wait_time(self) -> float:
        now = time.monotonic()
        wait = self.settings.flush_interval
        backing_off = self._retry_at > now
        if backing_off:
            wait = min(wait, self._retry_at - now)
        elif self.state == "online" and (
            len(self.points) >= self.settings.max_batch_points or self._stopping
        ):
            return 0.0
        if self.state == "online" and self.run_id:
            wait = min(wait, self._last_contact + self.settings.heartbeat_interval - now)
        return max(wait, 0.0)

    def _pump(self) -> None:
        while not self._abort:
            now = time.monotonic()
            if self.state != "online":
                with self._lock:
                    self._spill(final=self._stopping)
                if self.state != "spooling" or now < self._retry_at:
                    return
            elif now < self._retry_at:
                if len(self.points) > self.settings.spill_points:
                    with self._lock:
                        self._spill(final=False)
                return
            with self._lock:
                pending = self._take()
            if pending is None:
                return
            assert self._deliverer is not None
            outcome = self._deliverer.deliver(pending.record, self.run_id)
            with self._lock:
                self._settle(pending, outcome)

    def _settle(self, pending: Pending, outcome: Outcome) -> None:
        if self._closed:
            return
        now = time.monotonic()
        if outcome.done:
            if outcome.run_id is not None:
                self.run_id = outcome.run_id
                self._on_run_id(outcome.run_id)
            if pending.spooled and self.spool.is_pending(pending.seq):
                self.spool.ack(pending.seq, run_id=outcome.run_id)
            if pending.record["kind"] == "finish":
                self._finish_sent = True
            self._current = None
            self.sent_points += pending.points
            self._failing_since, self._attempt, self._retry_at = None, 0, 0.0
            self._failed_while_stopping = False
            self._last_contact = now
            if self.state == "spooling":
                self.state = "online"
                self.reporter.once("back", "the server is reachable again; sending spooled data")
            return
        self._current = pending
        if outcome.halt:
            self.state = "halted"
            self.reporter.once(
                "halt",
                f"the server refused this run's data ({outcome.reply.describe()}); nothing "
                f"more is sent. Data is kept in {self.spool.path}: fix the token or run, "
                "then `kiroku sync`",
                level=logging.ERROR,
            )
            self._spill(final=self._stopping)
            return
        self._failing_since = self._failing_since or now
        self._failed_while_stopping = self._stopping
        self._retry_at = now + retry_delay(self.settings, self._attempt, outcome.reply)
        self._attempt += 1
        # While finishing, a refused connection (nothing listens) is not worth waiting
        # out spool_after for: the spool keeps everything. A 429 or 503 is retried. A
        # 429 is no outage (the server answered, throttling this token): the run stays
        # online and waits out each Retry-After, finish() included, instead of leaving
        # its points in the spool.
        throttled = outcome.reply.status == 429
        overdue = not throttled and now - self._failing_since >= self.settings.spool_after
        nobody_there = self._stopping and outcome.reply.refused
        if self.state == "online" and (overdue or nobody_there):
            self.state = "spooling"
            self.reporter.once(
                "spooling",
                f"cannot deliver to {self.settings.url} ({outcome.reply.describe()}); "
                f"saving to {self.spool.path} and retrying in the background",
            )
            self._spill(final=self._stopping)

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if (
            self.state != "online"
            or not self.run_id
            or self._retry_at > now
            or now - self._last_contact < self.settings.heartbeat_interval
            or self._transport is None
        ):
            return
        self._last_contact = now  # a failed heartbeat waits for the next interval too
        self._transport.request("POST", f"/runs/{self.run_id}/heartbeat")

    # -- batches (called with the lock held) -----------------------------------------

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq

    def _take(self) -> Pending | None:
        """The next record in order: the one being retried, then the spool's oldest,
        then memory (meta first, then points), and the finish last of all."""
        if self._current is not None:
            return self._current
        if self.spool.has_pending():
            record = self.spool.first_pending()
            assert record is not None
            return Pending(int(record["seq"]), record, spooled=True)
        return self._take_memory(final=self._stopping)

    def _take_memory(self, *, final: bool) -> Pending | None:
        if self.meta:
            return self._log_record(self.meta.take(self.settings.max_batch_bytes // 2), 0)
        if self.points:
            return self._points_record()
        if final and not self._finish_taken and self._finish_body is not None:
            self._finish_taken = True
            seq = self._next_seq()
            return Pending(seq, {"kind": "finish", "seq": seq, "body": self._finish_body})
        return None

    def _log_record(self, body: dict[str, Any], points: int) -> Pending:
        seq = self._next_seq()
        body = {"batch_id": f"{self._session}-{seq}", **body}
        return Pending(seq, {"kind": "log", "seq": seq, "points": points, "body": body})

    def _points_record(self) -> Pending:
        batch = points_take(
            self.points,
            max_points=self.settings.max_batch_points,
            max_bytes=self.settings.max_batch_bytes,
            key_bytes=self._key_bytes,
        )
        return self._log_record({"metrics": batch}, len(batch))

    def _spill(self, *, final: bool, max_records: int | None = None) -> bool:
        """Move what waits in memory (and the finish, when ``final``) to the spool, in
        order: everything, or at most ``max_records`` records. Returns False on a disk
        error, when the data stays in memory."""
        unspooled = self._current is not None and not self._current.spooled
        finish_waiting = final and not self._finish_taken and self._finish_body is not None
        if not (unspooled or self.points or self.meta or finish_waiting):
            return True  # no spool file for a run that never needed one
        try:
            self.spool.open(self.run_id)
        except (OSError, SpoolBusy) as exc:
            self.reporter.once("spool-error", f"cannot write the spool {self.spool.path}: {exc}")
            return False
        if self._current is not None and not self._current.spooled:
            if self._current.seq != 0:  # the create (seq 0) is written by open()
                self.spool.append(self._current.record)
            self._current.spooled = True
        written = 0
        while max_records is None or written < max_records:
            pending = self._take_memory(final=final)
            if pending is None:
                break
            self.spool.append(pending.record)
            written += 1
        return True
