"""``Run``: what ``kiroku.init()`` returns. Everything here is called from the training
thread and only validates and queues; the sender thread does the talking."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Mapping
from typing import Any

from kiroku import keys, lifecycle
from kiroku.errors import InvalidInput
from kiroku.report import Reporter
from kiroku.sender import Sender
from kiroku.settings import Settings

logger = logging.getLogger("kiroku")
FINISH_STATUSES = ("finished", "failed", "killed")
_KEY_CACHE_LIMIT = 100_000
_BIG_INT = 2**53


class _View(Mapping[str, Any]):
    """A read-only mapping of what was recorded; subclasses decide how a write travels."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._data: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"

    def update(self, values: Mapping[str, Any] | None = None, /, **more: Any) -> None:
        for key, value in {**dict(values or {}), **more}.items():
            self[key] = value

    def as_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def __setitem__(self, key: str, value: Any) -> None:  # pragma: no cover (abstract)
        raise NotImplementedError


class Config(_View):
    """``run.config``: the run's params. Nested dicts are recorded as dotted keys
    (``{"optim": {"lr": 1e-3}}`` → param ``optim.lr``). Params are write-once on the
    server: setting a recorded key to a different value is reported once and ignored
    (raises InvalidInput with ``strict=True``)."""

    def __init__(self, run: Run) -> None:
        super().__init__(run)
        self._sent: dict[str, str] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        self._record({key: value})

    def update(self, values: Any = None, /, **more: Any) -> None:
        """Accepts a mapping, an ``argparse.Namespace`` or keywords."""
        mapping = keys.as_mapping(values) if values is not None else {}
        self._record({**mapping, **more})

    def _record(self, mapping: Mapping[str, Any]) -> None:
        clean: dict[str, str] = {}
        for top, value in mapping.items():
            if self._prepare(keys.flatten({top: value}), clean):
                self._data[top] = value
        if clean:
            self._run._meta("params", clean)

    def _prepare(self, flat: Mapping[str, Any], clean: dict[str, str]) -> bool:
        """Adds the new valid params of ``flat`` to ``clean``; False when any was
        refused (invalid, or a change to a write-once param)."""
        accepted = True
        for raw_key, raw_value in flat.items():
            key, problem = keys.key_clean(raw_key)
            text = None
            if key is not None:
                text, problem = keys.text_value(raw_value, max_length=keys.MAX_PARAM_VALUE_LENGTH)
            if problem or key is None or text is None:
                self._run._problem(f"param:{raw_key!r}", f"config key {raw_key!r}: {problem}")
                accepted = False
                continue
            previous = self._sent.get(key)
            if previous is not None and previous != text:
                self._run._problem(
                    f"param-change:{key}",
                    f"config {key!r} is already {previous!r}; params are write-once, so "
                    f"{text!r} is ignored (record a new key, a tag or a summary value instead)",
                )
                accepted = False
                continue
            if previous is None:
                self._sent[key] = text
                clean[key] = text
        return accepted

    def _seed(self, params: Mapping[str, str]) -> None:
        """What the server already holds (a resumed run), so changes are caught here."""
        self._sent.update(params)


class Tags(_View):
    """``run.tags``: text labels; a later value replaces the earlier one."""

    def __setitem__(self, key: str, value: Any) -> None:
        clean, problem = keys.key_clean(key)
        text = None
        if clean is not None:
            text, problem = keys.text_value(value, max_length=keys.MAX_TAG_VALUE_LENGTH)
        if clean is None or text is None:
            self._run._problem(f"tag:{key!r}", f"tag {key!r}: {problem}")
            return
        self._data[clean] = text
        self._run._meta("tags", {clean: text})

    def __delitem__(self, key: str) -> None:
        raise TypeError("tags cannot be removed from a script; remove them in the portal or API")


class Summary(_View):
    """``run.summary``: any JSON value per key (best accuracy, final loss...); a later
    value replaces the earlier one. Non-finite floats are sent as "NaN"/"Infinity"."""

    def __setitem__(self, key: str, value: Any) -> None:
        clean, problem = keys.key_clean(key)
        json_value = None
        if clean is not None:
            json_value, problem = keys.summary_value(value)
        if clean is None or problem is not None:
            self._run._problem(f"summary:{key!r}", f"summary {key!r}: {problem}")
            return
        self._data[clean] = value
        self._run._meta("summary", {clean: json_value})


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
        self._closers: list[Any] = []  # capture helpers to stop at finish()
        self._hasher: Any = None  # kiroku.capture.DatasetHasher, when datasets are hashed

    def __repr__(self) -> str:
        return (
            f"<kiroku.Run {self.project}/{self.name or self.client_id} id={self.id} {self.status}>"
        )

    def _attach(self, sender: Sender, answer: dict[str, Any] | None) -> None:
        """Start recording through ``sender``; ``answer`` is the server's run (None
        while it is not created yet)."""
        self._sender = sender
        self._points = sender.points
        self._accepting = True
        if answer is not None:
            self.id = str(answer["id"])
            self.url = answer.get("url")
            self.status = str(answer.get("status", "RUNNING"))
            if answer.get("_resumed"):
                self.name = str(answer.get("name") or self.name)
                self.config._seed(answer.get("params") or {})

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
            elif kind is not int or not -_BIG_INT < value < _BIG_INT:
                encoded = keys.number_encode(value)
                if encoded is None:
                    self._problem(
                        f"value:{key}",
                        f"metric {key!r}: {type(value).__name__} is not a number; dropped",
                    )
                    continue
                value = encoded
            append((key, value, step, ts))
        if len(self._points) > self._max_queue:  # type: ignore[arg-type]
            self._sender.overflow()  # type: ignore[union-attr]

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
        by then stays in the spool for ``kiroku sync``. Calling it again does nothing."""
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
        timeout = self.settings.finish_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        for closer in self._closers:
            try:
                closer(max(0.0, (deadline - time.monotonic()) / 2))
            except Exception:  # a capture helper must not stop the finish
                logger.debug("kiroku: closing a capture helper failed", exc_info=True)
        self._accepting = False
        self.status = status.upper()
        if self._sender is not None:
            body = {"status": status, "ended_at": time.time()}
            self._sender.close(body, max(0.0, deadline - time.monotonic()))
        if (line := self._reporter.summary()) is not None:
            logger.warning("kiroku: %s", line)

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
