"""``Run``: what ``kiroku.init()`` returns. Everything here is called from the training
thread and only validates and queues; the sender thread does the talking."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kiroku import keys, lifecycle
from kiroku.artifacts.files import log_problem
from kiroku.artifacts.followups import not_uploaded_error
from kiroku.artifacts.upload import Uploader
from kiroku.console import ARROW, count_text, duration_text, say
from kiroku.creation import ServerRun
from kiroku.errors import InvalidInput, KirokuError
from kiroku.registry.register import model_upload_prepare, registration
from kiroku.report import Reporter
from kiroku.run_views import Config, Summary, Tags
from kiroku.sender import Sender
from kiroku.settings import Settings

if TYPE_CHECKING:
    from kiroku.capture import DatasetHasher

logger = logging.getLogger("kiroku")
FINISH_STATUSES = ("finished", "failed", "killed")
_KEY_CACHE_LIMIT = 100_000
_BIG_INT = 2**53


class Run:
    """A run being recorded. Create it with ``kiroku.init()``; end it with ``finish()``
    or by leaving its ``with`` block. Nothing here blocks on the network or raises into
    the training loop, unless ``strict=True``.

    ``id`` is the server's run id (None while the run is not yet created: offline, or
    the server unreachable at start); ``client_id`` is the SDK's idempotency key, the
    ``id=`` to pass to ``kiroku.init(resume=...)`` to continue this run.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        sender: Sender | None,
        reporter: Reporter,
        project: str,
        client_id: str,
        name: str,
        run_id: str | None = None,
        url: str | None = None,
        step: int = 0,
        strict: bool = False,
    ) -> None:
        self.settings = settings
        self.project = project
        self.client_id = client_id
        self.name = name
        self.id = run_id
        self.url = url
        self.mode = settings.mode
        self.strict = strict
        self.config = Config(self)
        self.tags = Tags(self)
        self.summary = Summary(self)
        self.status = "RUNNING"
        self._sender = sender
        self._reporter = reporter
        self._step = step
        self._system_step = 0
        self._keys: dict[Any, str] = {}
        self._points = sender.points if sender is not None else None
        self._max_queue = settings.max_queue_points
        self._accepting = sender is not None
        self._finished = False
        self._pid = os.getpid()
        self._exit_status: str | None = None  # set by the SIGTERM handler / excepthook
        # Capture helpers to stop at finish(); each gets the seconds it may take.
        self._closers: list[Callable[[float], object]] = []
        self._hasher: DatasetHasher | None = None  # when datasets are hashed
        self._uploader: Uploader | None = None  # made by the first log_artifact()
        self._started = time.monotonic()
        self._nonfinite: set[str] = set()  # keys already warned about NaN / ±Infinity

    def __repr__(self) -> str:
        return (
            f"<kiroku.Run {self.project}/{self.name or self.client_id} id={self.id} {self.status}>"
        )

    def _attach(self, sender: Sender, server: ServerRun | None) -> None:
        """Start recording through ``sender``; ``server`` is the server's run (None
        while it is not created yet)."""
        self._sender = sender
        self._points = sender.points
        self._accepting = True
        if server is not None:
            data = server.data
            self.id = server.id
            self.url = data.get("url")
            self.status = str(data.get("status", "RUNNING"))
            if server.resumed:
                self.name = str(data.get("name") or self.name)
                self.config._seed(data.get("params") or {})

    @property
    def page_url(self) -> str | None:
        """The run's page in the portal: the server's ``url`` for it, else built from
        the server URL once the run exists there (created after an outage)."""
        if self.url:
            return self.url
        if self.id and self.settings.url:
            return f"{self.settings.url}/projects/{self.project}/runs/{self.id}"
        return None

    @property
    def step(self) -> int:
        """The step the next ``log()`` without ``step=`` records at."""
        return self._step

    # -- the hot path --------------------------------------------------------------

    def log(self, data: Mapping[str, Any], step: int | None = None) -> None:
        """Record metric values at ``step`` (default: one past the last step logged).
        Validates and queues; never waits for the network. A bad key or a value that is
        not a number is reported once and dropped (InvalidInput with ``strict=True``)."""
        if not self._accepting:
            if self._finished:
                self._problem("log-after-finish", "log() after finish() is ignored")
            return
        if step is None:
            step = self._step
        elif type(step) is not int:
            step = self._step_clean(step)
            if step is None:
                return
        if step >= self._step:
            self._step = step + 1
        self._append(data, step)

    def _append(self, data: Mapping[str, Any], step: int) -> None:
        ts = time.time()
        append = self._points.append  # type: ignore[union-attr]
        cache = self._keys
        try:
            items = data.items()
        except AttributeError:
            self._problem(
                "log-type", f"log() takes a dict of key: number, not {type(data).__name__}"
            )
            return
        for raw_key, value in items:
            key = cache.get(raw_key)
            if key is None:
                key = self._key_new(raw_key)
            if not key:  # refused (and reported) before
                continue
            kind = type(value)
            if kind is float:
                if value - value:  # NaN or ±Infinity: the only floats where this is not 0
                    value = keys.number_encode(value)
                    self._nonfinite_seen(key, value, step)
            elif kind is not int or not -_BIG_INT < value < _BIG_INT:
                encoded = keys.number_encode(value)
                if encoded is None:
                    self._problem(
                        f"value:{key}",
                        f"metric {key!r}: {type(value).__name__} is not a number; dropped",
                    )
                    continue
                value = encoded
                if type(value) is str:  # "NaN", "Infinity", "-Infinity"
                    self._nonfinite_seen(key, value, step)
            append((key, value, step, ts))
        if len(self._points) > self._max_queue:  # type: ignore[arg-type]
            self._sender.overflow()  # type: ignore[union-attr]

    def _nonfinite_seen(self, key: str, value: object, step: int) -> None:
        """Warn the first time a key gets NaN or ±Infinity (usually a diverging loss);
        the value is recorded all the same, as the server stores it."""
        if key in self._nonfinite:
            return
        self._nonfinite.add(key)
        logger.warning(
            "kiroku: metric %r is %s at step %d; recorded as such (shown once per key)",
            key,
            value,
            step,
        )

    def _key_new(self, raw_key: Any) -> str:
        """The key as sent, or "" (never a valid key) for one the server would refuse."""
        key, problem = keys.key_clean(raw_key)
        if len(self._keys) > _KEY_CACHE_LIMIT:
            self._keys.clear()
        result = key if key is not None else ""
        if isinstance(raw_key, str):
            self._keys[raw_key] = result
        if key is None:
            self._problem(f"key:{raw_key!r}", f"metric key {raw_key!r}: {problem}; dropped")
        return result

    def _step_clean(self, step: Any) -> int | None:
        value = None
        if not isinstance(step, bool | float):
            try:
                value = int(step.__index__())  # ints, numpy integers
            except (AttributeError, TypeError):
                value = None
        elif isinstance(step, float) and step.is_integer():
            value = int(step)
        if value is None or not keys.MIN_STEP <= value <= keys.MAX_STEP:
            self._problem("step", f"step must be an integer; got {step!r}; dropped the values")
            return None
        return value

    def _log_system(self, metrics: Mapping[str, float]) -> None:
        """System metrics, on their own step counter (one step per sample), so they
        never move the training step."""
        if not self._accepting:
            return
        self._append(metrics, self._system_step)
        self._system_step += 1

    # -- the rest --------------------------------------------------------------------

    def log_dataset(self, name: str, path: str | os.PathLike[str]) -> None:
        """Record a dataset by name: its path now, and its content hash, size and file
        count when the background hasher is done (logging a name again replaces it)."""
        clean, problem = keys.key_clean(name)
        if clean is None:
            self._problem(f"dataset:{name!r}", f"dataset name {name!r}: {problem}")
            return
        self._meta("datasets", {clean: {"name": clean, "uri": keys.dataset_uri(path)}})
        if self._hasher is not None and self._accepting:
            self._hasher.submit(clean, os.fspath(path), self._dataset_hashed)

    def log_artifact(self, path: str | os.PathLike[str], name: str | None = None) -> None:
        """Upload a file, or every file under a directory, as artifacts of this run.

        A file is stored as ``name`` (default: its basename); a directory's files as
        ``<name or the directory's name>/<path below it>`` (symlinks pointing outside
        it are skipped, symlinked directories not followed). Logging a path again makes
        a new version. Returns at once: files are hashed and uploaded in the background
        (read them there, so leave them unchanged until ``finish()``, which waits for
        the uploads within its timeout). A failed upload is reported, and raised only
        by ``finish()`` with ``strict=True``.

        Records nothing in ``offline`` and ``disabled`` mode (warned once; ``kiroku
        sync`` does not upload artifacts). A path that does not exist or a ``name`` the
        server would refuse is reported and ignored (InvalidInput with ``strict=True``);
        files below a directory whose names it would refuse are skipped and reported.
        """
        if self.mode != "online":
            self._reporter.once(
                "artifact-mode",
                f"log_artifact() records nothing in {self.mode} mode (artifacts are only "
                "uploaded online)",
            )
            return
        if not self._accepting:
            if self._finished:
                self._problem("artifact-after-finish", "log_artifact() after finish() is ignored")
            return
        problem = log_problem(path, name)
        if problem is not None:
            self._problem(f"artifact:{os.fspath(path)!r}", problem)
            return
        self._uploads().submit(os.fspath(path), name)

    def log_model(
        self,
        path: str | os.PathLike[str],
        name: str,
        aliases: str | list[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        flavor: str | None = None,
        description: str | None = None,
    ) -> None:
        """Upload a model (a file, or a folder's files) as artifacts of this run under
        ``models/<name>/``, then register them as a new version of model ``name`` (the
        model is created the first time), pointing ``aliases`` at it. ``metadata`` is
        plain JSON; ``flavor`` says how to load it (``"pytorch"``...).

        Returns at once, as ``log_artifact()`` does: the files are uploaded in the
        background and the version is registered once all of them are; ``finish()``
        waits for both. A failed upload or registration is reported (the version is not
        registered when any file failed), and raised only by ``finish()`` with
        ``strict=True``. Records nothing in ``offline`` and ``disabled`` mode (warned
        once). A bad name, alias, metadata or path is reported and ignored (InvalidInput
        with ``strict=True``).
        """
        if self.mode != "online":
            self._reporter.once(
                "model-mode",
                f"log_model() records nothing in {self.mode} mode (models are only uploaded "
                "and registered online)",
            )
            return
        if not self._accepting:
            if self._finished:
                self._problem("model-after-finish", "log_model() after finish() is ignored")
            return
        upload = model_upload_prepare(
            path, name, aliases=aliases, metadata=metadata, flavor=flavor, description=description
        )
        if isinstance(upload, str):
            self._problem(f"model:{name!r}", upload)
            return
        uploader = self._uploads()
        uploader.submit(
            upload.source, upload.artifact_name, registration(uploader, self.project, upload)
        )

    def _uploads(self) -> Uploader:
        if self._uploader is None:
            self._uploader = Uploader(
                settings=self.settings, reporter=self._reporter, run_id=lambda: self.id
            )
        return self._uploader

    def _dataset_hashed(self, dataset: dict[str, Any]) -> None:
        known = ("name", "uri", "digest", "size", "file_count", "source")
        item = {k: dataset[k] for k in known if dataset.get(k) is not None}
        if item.get("name"):
            self._meta("datasets", {str(item["name"]): item})

    def _meta(self, field: str, values: dict[str, Any]) -> None:
        if self._sender is not None and self._accepting:
            self._sender.meta_add(field, values)
        elif self._finished and field != "datasets":
            self._problem(
                f"{field}-after-finish", f"run.{field} changes after finish() are ignored"
            )

    def _problem(self, kind: str, message: str) -> None:
        if self.strict:
            raise InvalidInput(message)
        self._reporter.once(kind, message + " (further problems like this are counted, not shown)")

    def finish(self, status: str = "finished", *, timeout: float | None = None) -> None:
        """End the run as ``finished``, ``failed`` or ``killed``: stop the capture
        helpers, deliver what is queued and then the finish, waiting at most
        ``timeout`` seconds (default ``settings.finish_timeout``). What is not delivered
        by then stays in the spool for ``kiroku sync``. Artifact uploads are waited
        for first (up to ``settings.artifact_timeout``, or within ``timeout`` when it is
        given), and so are ``log_model()``'s registrations; one not done in time is
        reported (raised, as the KirokuError of the first such file or model, with
        ``strict=True``, once the run has ended). Calling it again does nothing."""
        status = status.lower()
        if status not in FINISH_STATUSES:
            raise ValueError(f"status must be one of {', '.join(FINISH_STATUSES)}; got {status!r}")
        if self._finished:
            return
        self._finished = True
        if os.getpid() != self._pid:  # a forked child (a DataLoader worker): not ours
            self._accepting = False
            return
        lifecycle.unregister(self)
        capped = timeout is not None
        timeout = self.settings.finish_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        for closer in self._closers:
            try:
                closer(max(0.0, (deadline - time.monotonic()) / 2))
            except Exception:  # a capture helper must not stop the finish
                logger.debug("kiroku: closing a capture helper failed", exc_info=True)
        self._accepting = False
        self.status = status.upper()
        not_uploaded: list[tuple[str, KirokuError]] = []
        not_registered: list[tuple[str, KirokuError]] = []
        if self._uploader is not None:
            # Before the finish, which goes last; the sender keeps sending meanwhile.
            # With a timeout given (or on SIGTERM) some of it is kept for what is left
            # and the finish; otherwise uploads get artifact_timeout and the sender
            # then its own finish_timeout.
            if capped:
                left = max(0.0, deadline - time.monotonic())
                not_uploaded = self._uploader.close(left - min(5.0, left / 4))
            else:
                not_uploaded = self._uploader.close(self.settings.artifact_timeout)
                deadline = time.monotonic() + timeout
            not_registered = self._uploader.not_done
        if self._sender is not None:
            body = {"status": status, "ended_at": time.time()}
            self._sender.close(body, max(0.0, deadline - time.monotonic()))
            if not self.settings.quiet:
                say(self._finish_line())
        if (line := self._reporter.summary()) is not None:
            logger.warning("kiroku: %s", line)
        if (not_uploaded or not_registered) and self.strict:
            raise not_uploaded_error(not_uploaded, not_registered)

    def _finish_line(self) -> str:
        """``run NAME FINISHED in 2m 05s, 12,000 points sent → URL``, and what was left
        in the spool for ``kiroku sync``."""
        sender = self._sender
        assert sender is not None
        took = f"run {self.name} {self.status} in {duration_text(time.monotonic() - self._started)}"
        spooled = sender.spool.pending_points
        if self.mode == "offline":
            return (
                f"offline {took}, {count_text(spooled, 'point')} saved to {sender.spool.path}; "
                "upload it with `kiroku sync`"
            )
        line = f"{took}, {count_text(sender.sent_points, 'point')} sent"
        if sender.spool_left:
            parts = [count_text(spooled, "point")] if spooled else []
            if not sender.finish_sent:
                parts.append("the finish")
            left = " and ".join(parts) or "the rest"
            line += (
                f"; not everything reached the server, left in {sender.spool.path} for "
                f"`kiroku sync`: {left}"
            )
        url = self.page_url
        return f"{line} {ARROW} {url}" if url else line

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            status = self._exit_status or "finished"
        elif issubclass(exc_type, KeyboardInterrupt):
            status = "killed"
        elif issubclass(exc_type, SystemExit) and exc.code in (None, 0):
            status = self._exit_status or "finished"
        else:
            status = self._exit_status or "failed"
        self.finish(status)
