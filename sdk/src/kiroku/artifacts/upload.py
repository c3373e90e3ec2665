"""Uploading a run's artifacts in the background (``Run.log_artifact``).

``log_artifact()`` only checks its arguments and queues a job; daemon threads do the
rest. File workers list a directory, hash each file (sha256, 1 MiB at a time),
declare it (``POST /runs/{id}/artifacts``), upload it (one PUT of the whole file, or
a multipart upload: see ``multipart``) and complete it
(``POST /artifacts/{id}/complete``). Parts run on a pool of their own, so a file
worker waiting for its parts never holds up the parts themselves.

Every thread has its own clients: a ``Transport`` for the API (with the token) and a
storage client, which never carries the token (a storage URL is its own credential).
Transient failures (network errors, timeouts, 408, 429, 5xx) are retried with
backoff, never sooner than ``Retry-After``, until ``close()`` gives up. A single PUT
refused with 403 cannot get a fresh URL without declaring a new version, so it is
retried a few times and then reported.

A ``submit()`` may carry a ``FollowUp`` (``Run.log_model`` registers a model version
with one): a job queued once every file of that submit is uploaded, by the worker that
finishes the last of them (before that job counts as done, so ``close()`` never sees
a gap between them). When any of the files failed, the follow-up is not run and is
reported as not done, with the first file's error.

Daemon threads rather than ``concurrent.futures``: an executor's threads are joined
at interpreter exit before ``atexit`` runs ``finish()``, so a stuck upload would hang
the exit with no timeout.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from kiroku.artifacts.files import collect_files
from kiroku.artifacts.followups import Batch, FollowUp
from kiroku.artifacts.storage import (
    Failed,
    SourceError,
    Stopped,
    absolute_url,
    storage_client,
    storage_put,
)
from kiroku.artifacts.transfer import file_upload
from kiroku.errors import InvalidInput, KirokuError, Unreachable
from kiroku.progress import ProgressLine
from kiroku.report import Reporter
from kiroku.settings import Settings
from kiroku.transport import Reply, Transport, retry_delay

logger = logging.getLogger("kiroku")

FILE_WORKERS = 4
PART_WORKERS = 4
PROGRESS_BYTES = 64 * 1024 * 1024  # finish() waiting on this much shows a progress line
_LATE = "not uploaded before finish() gave up (pass a larger timeout)"
_LATE_FOLLOW_UP = "not done before finish() gave up (pass a larger timeout)"


def _lower_thread_priority() -> None:
    """Hashing competes with the data loader for CPU. On Linux a thread has its own
    nice value, so raise only this one's (elsewhere the call would reach the whole
    process, or another one: leave it), as the dataset hasher does."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class _Clients(threading.local):
    """Each worker thread's own API transport and storage client, made on first use."""

    transport: Transport | None = None
    storage: httpx.Client | None = None


class Uploader:
    """The upload queue of one run. ``run_id()`` gives the server's run id, or None
    while the run is not created yet (uploads wait for it until ``close()``)."""

    def __init__(
        self, *, settings: Settings, reporter: Reporter, run_id: Callable[[], str | None]
    ) -> None:
        self.settings = settings
        self._reporter = reporter
        self._run_id = run_id
        self._files: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._parts: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._clients = _Clients()
        self._stop = threading.Event()
        self._idle = threading.Condition()
        # Queued or running jobs: id → (what they upload, whether it is a follow-up).
        self._active: dict[int, tuple[str, bool]] = {}
        self._next_job = 0
        self._failures: list[tuple[str, KirokuError]] = []
        self._not_done: list[tuple[str, KirokuError]] = []  # follow-ups
        self._batches: list[Batch] = []  # those whose files are not all done yet
        self._total_bytes = 0
        self._sent_bytes = 0
        self._started = False
        self._closed = False

    # -- called from the training thread ---------------------------------------------

    def submit(self, path: str, name: str | None, follow_up: FollowUp | None = None) -> None:
        """Queue ``path`` (a file or a directory) for upload, and ``follow_up`` for once
        its files are uploaded; returns at once."""
        if self._closed:
            return
        if not self._started:
            self._start()
        batch = None
        if follow_up is not None:
            batch = Batch(follow_up)
            with self._idle:
                self._batches.append(batch)
        self._queue(self._files, path, lambda: self._scan(path, name, batch), batch=batch)

    @property
    def not_done(self) -> list[tuple[str, KirokuError]]:
        """``(what, error)`` of each follow-up not done (complete once ``close()`` has
        returned): failed, skipped because files failed, or still waiting at the end."""
        with self._idle:
            return list(self._not_done)

    def close(self, timeout: float) -> list[tuple[str, KirokuError]]:
        """Wait at most ``timeout`` seconds for every queued and running upload and
        follow-up, then stop the rest. Returns ``(artifact path, error)`` for each file
        not uploaded, also reported (once, as an error) through the run's reporter; the
        follow-ups not done are reported too, and listed by ``not_done``. A second call
        returns ``[]``."""
        if self._closed:
            return []
        self._closed = True
        deadline = time.monotonic() + max(0.0, timeout)
        progress = None
        if self._active and self._total_bytes >= PROGRESS_BYTES and not self.settings.quiet:
            progress = ProgressLine("kiroku: uploading artifacts", self._total_bytes, unit="bytes")
        with self._idle:
            while self._active and time.monotonic() < deadline:
                self._idle.wait(min(0.25, max(0.0, deadline - time.monotonic())))
                if progress is not None:
                    progress.update(self._sent_bytes, total=self._total_bytes)
        with self._idle:  # no job is queued behind the workers' stop marks
            self._stop.set()
            for _ in range(FILE_WORKERS):
                self._files.put(None)
            for _ in range(PART_WORKERS):
                self._parts.put(None)
        with self._idle:  # a moment for queued jobs to drop out and requests to stop
            end = time.monotonic() + 1.0
            while self._active and time.monotonic() < end:
                self._idle.wait(0.05)
            failures = self._failures + [
                (what, Unreachable(_LATE))
                for what, follow_up in self._active.values()
                if not follow_up
            ]
            self._not_done += [
                (what, Unreachable(_LATE_FOLLOW_UP))
                for what, follow_up in self._active.values()
                if follow_up
            ]
            for batch in self._batches:  # files still uploading: never followed up
                batch.abandoned = True
                self._not_done.append((batch.follow_up.what, Unreachable(_LATE_FOLLOW_UP)))
            self._batches.clear()
            not_done = list(self._not_done)
        if progress is not None:
            progress.update(self._sent_bytes, total=self._total_bytes)
            progress.close()
        if failures:
            shown = "; ".join(f"{what}: {error.message}" for what, error in failures[:5])
            more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
            self._reporter.once(
                "artifacts-not-uploaded",
                f"{len(failures)} artifact file(s) not uploaded: {shown}{more}",
                level=logging.ERROR,
            )
        if not_done:
            shown = "; ".join(f"{what}: {error.message}" for what, error in not_done[:5])
            more = f" (and {len(not_done) - 5} more)" if len(not_done) > 5 else ""
            self._reporter.once(
                "models-not-registered",
                f"{len(not_done)} model version(s) not registered: {shown}{more}",
                level=logging.ERROR,
            )
        return failures

    # -- for the jobs (multipart's too) ------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stopped(self) -> Failed:
        return Failed(Unreachable(_LATE))

    def queue_part(self, job: Callable[[], None]) -> None:
        """Run ``job`` on a part worker. It must not raise, and must not wait for
        other part jobs. Once stopping, it runs here (and fails at once), since the
        part workers may be gone."""
        with self._idle:
            if not self._stop.is_set():
                self._parts.put(job)
                return
        job()

    def call(self, method: str, path: str, body: Any) -> Any:
        """An API call's JSON, retrying transient failures until ``close()`` stops.
        Raises Failed for a refusal (with the server's message) or when stopped."""
        attempt = 0
        while True:
            if self._stop.is_set():
                raise self.stopped()
            reply = self._transport().request(method, path, body=body)
            if reply.ok:
                return reply.data
            if not reply.transient:
                error = reply.error()
                error.message = reply.describe()
                raise Failed(error)
            self.backoff(attempt, reply)
            attempt += 1

    def backoff(self, attempt: int, reply: Reply) -> None:
        """Sleep before retry ``attempt`` (0-based); raises Failed when stopped."""
        delay = retry_delay(self.settings, attempt, reply)
        logger.debug("kiroku: artifact upload: %s; retrying in %.1fs", reply.describe(), delay)
        if self._stop.wait(delay):
            raise self.stopped()

    def put(
        self, url: str, headers: dict[str, str], path: str, offset: int, length: int
    ) -> tuple[Reply, str | None]:
        """One PUT of a file's bytes to a storage URL from the server: see
        ``storage_put``. Raises Failed when the file cannot be read or when stopped."""
        try:
            return storage_put(
                self._storage(),
                absolute_url(self.settings.url, url),
                headers,
                path,
                offset,
                length,
                on_bytes=self._count,
                should_stop=self._stop.is_set,
            )
        except Stopped:
            raise self.stopped() from None
        except SourceError as exc:
            raise Failed(InvalidInput(str(exc))) from exc

    # -- the workers -----------------------------------------------------------------

    def _start(self) -> None:
        self._started = True
        for index in range(FILE_WORKERS + PART_WORKERS):
            jobs = self._files if index < FILE_WORKERS else self._parts
            threading.Thread(
                target=self._work, args=(jobs,), name=f"kiroku-artifacts-{index}", daemon=True
            ).start()

    def _work(self, jobs: queue.Queue[Callable[[], None] | None]) -> None:
        _lower_thread_priority()
        try:
            while (job := jobs.get()) is not None:
                job()
        finally:
            if self._clients.transport is not None:
                self._clients.transport.close()
            if self._clients.storage is not None:
                self._clients.storage.close()

    def _queue(
        self,
        jobs: queue.Queue[Callable[[], None] | None],
        what: str,
        work: Callable[[], None],
        *,
        batch: Batch | None = None,
        file: bool = False,
        follow_up: bool = False,
    ) -> None:
        """Queue a job that counts as pending (for ``close()``) until it has run, and
        as a member of ``batch`` (a file when ``file``, else its listing) until then."""
        job_id = -1

        def run() -> None:
            error: KirokuError | None = None
            try:
                work()
            except Failed as failed:
                error = failed.error
            except Exception as exc:  # a bug must not kill the worker and its queue
                logger.error("kiroku: internal error uploading %s", what, exc_info=True)
                error = KirokuError(f"internal error: {exc!r}")
            finally:
                if error is not None:
                    self._fail(what, error, follow_up=follow_up)
                if batch is not None:  # before this job stops counting: see the docstring
                    self._batch_done(batch, what, error, file=file)
                with self._idle:
                    self._active.pop(job_id, None)
                    self._idle.notify_all()

        # Under the lock close() holds to stop: no job lands behind the workers' stop marks.
        late = Unreachable(_LATE_FOLLOW_UP if follow_up else _LATE)
        with self._idle:
            stopped = self._stop.is_set()
            if stopped:
                (self._not_done if follow_up else self._failures).append((what, late))
            else:
                job_id = self._next_job
                self._next_job += 1
                self._active[job_id] = (what, follow_up)
                jobs.put(run)
        if stopped and batch is not None:
            self._batch_done(batch, what, late, file=file)

    def _batch_done(
        self, batch: Batch, what: str, error: KirokuError | None, *, file: bool
    ) -> None:
        """One member of ``batch`` is done; after the last one, queue its follow-up, or
        record it as not done when a file failed. All under the lock (a reentrant one),
        so ``close()`` sees either the batch pending or what became of its follow-up."""
        follow_up = batch.follow_up
        with self._idle:
            if batch.abandoned:
                return
            if error is not None:
                batch.failures.append((what, error))
            elif file:
                batch.names.append(what)
            batch.pending -= 1
            if batch.pending:
                return
            self._batches.remove(batch)
            if batch.failures:
                first_what, first = batch.failures[0]
                message = f"{len(batch.failures)} of its file(s) not uploaded"
                self._fail(
                    follow_up.what,
                    type(first)(
                        f"{message} ({first_what}: {first.message})",
                        status=first.status,
                        code=first.code,
                        field=first.field,
                    ),
                    follow_up=True,
                )
                return
            names = sorted(batch.names)

            def work() -> None:
                follow_up.work(self.wait_run_id(), names)

            self._queue(self._files, follow_up.what, work, follow_up=True)

    def _fail(self, what: str, error: KirokuError, *, follow_up: bool = False) -> None:
        with self._idle:
            (self._not_done if follow_up else self._failures).append((what, error))
        if self._stop.is_set():  # once stopping, close() lists them all
            return
        if follow_up:
            self._reporter.once(
                "model-not-registered",
                f"model {what!r}: version not registered: {error.message} (further failures "
                "are listed at finish())",
            )
        else:
            self._reporter.once(
                "artifact-failed",
                f"artifact {what!r} not uploaded: {error.message} (further failures are "
                "listed at finish())",
            )

    def _count(self, sent: int) -> None:
        with self._idle:
            self._sent_bytes += sent

    def _transport(self) -> Transport:
        if self._clients.transport is None:
            self._clients.transport = Transport(self.settings)
        return self._clients.transport

    def _storage(self) -> httpx.Client:
        if self._clients.storage is None:
            self._clients.storage = storage_client(self.settings)
        return self._clients.storage

    # -- one path, one file -------------------------------------------------------------

    def _scan(self, path: str, name: str | None, batch: Batch | None = None) -> None:
        def skipped(where: str, why: str) -> None:
            self._reporter.once("artifact-skipped", f"log_artifact({path!r}) skips {where}: {why}")

        try:
            files = collect_files(path, name, skipped)
        except OSError as exc:
            raise Failed(InvalidInput(f"cannot read {path}: {exc}")) from exc
        for file in files:
            if self._stop.is_set():
                raise self.stopped()
            with self._idle:
                self._total_bytes += file.size
                if batch is not None:
                    batch.pending += 1
            upload = functools.partial(file_upload, self, file)
            self._queue(self._files, file.name, upload, batch=batch, file=True)

    def size_changed(self, listed: int, hashed: int) -> None:
        """A file's size when hashed differs from when it was listed: the progress
        total follows."""
        with self._idle:
            self._total_bytes += hashed - listed

    def wait_run_id(self) -> str:
        """The server's run id, once the run exists; ``Failed`` when ``close()`` stops
        the wait first."""
        while True:
            run_id = self._run_id()
            if run_id:
                return run_id
            if self._stop.wait(0.2):
                raise Failed(
                    Unreachable("the run was never created on the server, so nothing was uploaded")
                )
