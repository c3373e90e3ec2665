"""``kiroku.init()``: settings, capture, creating (or resuming) the run, and starting
the sender and the capture helpers."""

from __future__ import annotations

import logging
import os
import secrets
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiroku import keys, lifecycle
from kiroku.console import ARROW, say
from kiroku.creation import ServerRun, server_run_open
from kiroku.errors import ConfigError, KirokuError
from kiroku.redaction import redact_json
from kiroku.report import Reporter
from kiroku.run import Run
from kiroku.sender import Sender
from kiroku.settings import Settings, settings_resolve
from kiroku.transport import Transport

try:  # built alongside this module; guarded so the core works without it
    from kiroku import capture as _capture
except ImportError:  # pragma: no cover
    _capture = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from kiroku.capture import CaptureOptions

logger = logging.getLogger("kiroku")
RESUME_MODES = ("never", "allow", "must")


@dataclass(frozen=True)
class Opening:
    """What ``init()`` sends first: ``create``, the spool's create record (seq 0) of
    ``session``, and all of the run's ``params`` and ``datasets``, of which the create
    carries only the first (the server's per-request maximum)."""

    create: dict[str, Any]
    session: str
    params: list[tuple[str, str]]
    datasets: list[dict[str, Any]]


def init(
    project: str | None = None,
    name: str | None = None,
    config: Any = None,
    tags: Mapping[str, Any] | None = None,
    notes: str = "",
    datasets: Mapping[str, str | os.PathLike[str]] | None = None,
    id: str | None = None,
    resume: str = "never",
    mode: str | None = None,
    group: str | None = None,
    parent: Run | str | None = None,
    *,
    url: str | None = None,
    token: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    capture: Any = None,
    heartbeat_interval: float | None = None,
    strict: bool = False,
    handle_signals: bool = True,
    settings: Settings | None = None,
    ci: Mapping[str, Any] | None = None,
    quiet: bool | None = None,
) -> Run:
    """Start recording a run and return it.

    ``id`` names the run on the client side (its ``client_id``, 8 to 64 letters,
    digits, ``_`` or ``-``; a server run id also works for resuming). ``resume``:
    ``"never"`` (a run with this ``id`` must not exist yet), ``"allow"`` (continue it
    if it exists), ``"must"`` (it must exist). ``mode``: ``"online"``, ``"offline"``
    (spool only, upload later with ``kiroku sync``) or ``"disabled"`` (do nothing).
    ``capture``: a ``kiroku.capture.CaptureOptions``, a dict of its fields, or False.
    ``settings`` carries the tuning values (timeouts, intervals); url/token/dir/mode/
    project here override it, then the environment, then ``kiroku login``'s file.
    ``ci`` is the CI context to record with the run (provider, repository, workflow_url,
    pr, …: the server's ``ci`` fields), as ``kiroku ci report`` does.

    Prints one line to stderr (``Kiroku: run <name> → <url>``, or where an offline run
    is saved), and ``finish()`` another; ``quiet=True`` (or ``KIROKU_SILENT=true``)
    turns both off.

    Raises ConfigError (bad arguments, no URL/token), AuthError (401/403), NotFound
    (no such project: the message names the projects the token can see; or
    ``resume="must"`` and no such run), InvalidInput (the server
    refused the run, or ``resume="never"`` and the run exists). When the server cannot
    be reached the run starts anyway and is created once it can be (``resume="must"``
    raises Unreachable instead, since it cannot be checked).
    """
    chosen = settings_resolve(
        url=url, token=token, project=project, mode=mode, dir=dir, quiet=quiet, base=settings
    )
    if heartbeat_interval is not None:
        chosen = chosen.with_overrides(heartbeat_interval=float(heartbeat_interval))
    _arguments_check(id=id, resume=resume)
    reporter = Reporter()
    client_id = id or secrets.token_urlsafe(16)
    run = Run(
        settings=chosen,
        sender=None,
        reporter=reporter,
        project=chosen.project or "",
        client_id=client_id,
        name=name if name is not None else _default_name(client_id),
        strict=strict,
    )
    if chosen.mode == "disabled":
        return run
    if not chosen.project:
        raise ConfigError("no project: pass project=... or set KIROKU_PROJECT")
    if chosen.mode == "online" and not chosen.token:
        raise ConfigError("no token: run `kiroku login` or set KIROKU_TOKEN")
    options = _capture_options(capture)
    # Validated (and problems reported) by the run's own views; sent with the create.
    run.config.update(config or {})
    run.tags.update(tags or {})
    opening = _opening(
        run,
        notes=notes,
        group=group,
        parent=parent,
        options=options,
        datasets=datasets or {},
        ci=ci,
        resume=resume,
    )
    transport = Transport(chosen) if chosen.mode == "online" else None
    server = None
    if transport is not None:
        server = server_run_open(transport, reporter, opening.create, id=id, resume=resume)
    sender = Sender(
        settings=chosen,
        transport=transport,
        reporter=reporter,
        create=opening.create,
        run_id=server.id if server is not None else None,
        session=opening.session,
        on_run_id=lambda new_id: setattr(run, "id", new_id),
    )
    run._attach(sender, server)
    _rest_queue(sender, opening, server)
    _resume_catch_up(
        run, reporter, transport, server, resuming=id is not None and resume != "never"
    )
    _start_capture_helpers(run, options, datasets or {})
    lifecycle.register(run, handle_signals=handle_signals)
    if not chosen.quiet:
        _announce(run, sender, server)
    return run


def _arguments_check(*, id: str | None, resume: str) -> None:
    """Raises ConfigError for a ``resume`` mode or ``id`` that ``init()`` refuses."""
    if resume not in RESUME_MODES:
        raise ConfigError(f"resume must be one of {', '.join(RESUME_MODES)}; got {resume!r}")
    if id is not None and not (keys.CLIENT_ID_RE.fullmatch(id) or keys.RUN_ID_RE.fullmatch(id)):
        raise ConfigError("id must be 8 to 64 letters, digits, '_' or '-'")
    if resume == "must" and id is None:
        raise ConfigError("resume='must' needs the id of the run to continue")


def _opening(
    run: Run,
    *,
    notes: str,
    group: str | None,
    parent: Run | str | None,
    options: CaptureOptions | None,
    datasets: Mapping[str, Any],
    ci: Mapping[str, Any] | None,
    resume: str,
) -> Opening:
    """The create record for ``run`` (captured context, params, tags, datasets); raises
    ConfigError for a ``parent`` that is no run id."""
    params = list(run.config._sent.items())
    session = secrets.token_urlsafe(9)
    body = _create_body(run, notes=notes, group=group, parent=parent, options=options)
    if ci:
        body["ci"] = redact_json(dict(ci))
    body["params"] = dict(params[: keys.MAX_PARAMS_PER_BATCH])
    # Named datasets first, then what DVC lists; the create carries the server's
    # per-request maximum and the rest follow in batches.
    all_datasets = _named_datasets(run, datasets) + body["datasets"]
    body["datasets"] = all_datasets[: keys.MAX_DATASETS_PER_BATCH]
    create = {
        "kind": "create",
        "seq": 0,
        "session": session,
        "project": run.project,
        "url": run.settings.url,
        "resume": resume,
        "created": time.time(),
        "body": body,
    }
    return Opening(create=create, session=session, params=params, datasets=all_datasets)


def _rest_queue(sender: Sender, opening: Opening, server: ServerRun | None) -> None:
    """Queue for the sender what the create does not carry."""
    body = opening.create["body"]
    extra = dict(opening.params[keys.MAX_PARAMS_PER_BATCH :])
    if server is not None and server.by_server_id:
        # No create is sent for a run resumed by its server id: send what it carries.
        extra = dict(opening.params)
        sender.meta_add("tags", body["tags"])
        sender.meta_add("datasets", {d["name"]: d for d in body["datasets"]})
    if extra:  # the create carries the first 1,000 params; the rest follow in batches
        sender.meta_add("params", extra)
    later_datasets = opening.datasets[keys.MAX_DATASETS_PER_BATCH :]
    if later_datasets:
        sender.meta_add("datasets", {d["name"]: d for d in later_datasets})


def _resume_catch_up(
    run: Run,
    reporter: Reporter,
    transport: Transport | None,
    server: ServerRun | None,
    *,
    resuming: bool,
) -> None:
    """A resumed run goes on from the server's last steps, reopened if it had ended.
    Without the server's run (offline, or unreachable) its steps start at 0: said once
    when ``resuming``."""
    if server is None and resuming:
        reporter.once(
            "resume-steps",
            "a resumed run's last step is unknown (offline, or the server unreachable); steps "
            "start at 0 — pass step= to log() to avoid replacing earlier values",
        )
    if transport is not None and server is not None and server.resumed:
        _continue_steps(run, transport)
        if server.ended:
            _reopen(run, transport, str(server.data["status"]))


def _announce(run: Run, sender: Sender, server: ServerRun | None) -> None:
    if run.mode == "offline":
        say(f"offline run {run.name}: saved to {sender.spool.path}; upload it with `kiroku sync`")
    elif server is None:
        say(
            f"run {run.name} {ARROW} not created yet: {run.settings.url} cannot be reached; "
            "it is created when the server answers"
        )
    else:
        verb = "resuming run" if server.resumed else "run"
        say(f"{verb} {run.name} {ARROW} {run.page_url}")


def _default_name(client_id: str) -> str:
    """``<script>-<6 chars>``; ``run-...`` for ``python -c``, a REPL or a notebook."""
    script = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else ""
    if not script or script.startswith(("-", "ipykernel")):
        script = "run"
    return f"{script}-{client_id[:6]}"


def _capture_options(capture: Any) -> CaptureOptions | None:
    if _capture is None:
        return None
    if capture is False:
        return _capture.CaptureOptions(
            git=False, environment=False, packages=False, gpus=False, datasets=False, dvc=False
        )
    if capture is None or capture is True:
        return _capture.CaptureOptions()
    if isinstance(capture, Mapping):
        return _capture.CaptureOptions(**capture)
    options: CaptureOptions = capture  # a CaptureOptions, as init() documents
    return options


def _create_body(
    run: Run,
    *,
    notes: str,
    group: str | None,
    parent: Run | str | None,
    options: CaptureOptions | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": run.client_id,
        "name": run.name,
        "notes": notes or "",
        "group": group or "",
        "started_at": time.time(),
        "tags": dict(run.tags.items()),
        "datasets": [],
    }
    parent_id = parent.id if isinstance(parent, Run) else parent
    if isinstance(parent, Run) and parent_id is None:
        run._problem("parent", "the parent run is not created on the server yet; no parent set")
    elif parent_id is not None:
        if not keys.RUN_ID_RE.fullmatch(parent_id):
            raise ConfigError("parent must be a Run or a run id (32 hex characters)")
        body["parent_id"] = parent_id
    if options is not None and _capture is not None:
        context = _capture.capture_run_context(options)
        if context.get("git"):
            body["git"] = context["git"]
        if context.get("environment"):
            body["environment"] = context["environment"]
        if options.dvc:
            body["datasets"] += _dvc(run)
    return body


def _named_datasets(run: Run, datasets: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = []
    for raw_name, path in datasets.items():
        name, problem = keys.key_clean(raw_name)
        if name is None:
            run._problem(f"dataset:{raw_name!r}", f"dataset name {raw_name!r}: {problem}")
            continue
        items.append({"name": name, "uri": keys.dataset_uri(path)})
    return items


def _dvc(run: Run) -> list[dict[str, Any]]:
    """Datasets recorded in ``dvc.lock`` / ``.dvc`` files of the repository (its root:
    the nearest folder up with ``.git``, else the working directory)."""
    cwd = Path.cwd()
    root = next((p for p in (cwd, *cwd.parents) if (p / ".git").exists()), cwd)
    try:
        found = _capture.dvc_datasets(root)
    except Exception:  # capture must never stop a run from starting
        logger.debug("kiroku: reading DVC files failed", exc_info=True)
        return []
    return [d for d in found if keys.key_clean(d.get("name"))[0] is not None]


def _reopen(run: Run, transport: Transport, status: str) -> None:
    """An ended run being resumed (a requeued job) is reopened on the server, which
    otherwise refuses new metrics and params for it."""
    try:
        transport.call(
            "POST", f"/runs/{run.id}/resume", deadline=time.monotonic() + run.settings.timeout
        )
    except KirokuError as exc:
        run._reporter.once(
            "resume-ended",
            f"run {run.id} had ended as {status} and could not be reopened ({exc}); the "
            "server refuses new metrics and params for it until it is",
        )


def _continue_steps(run: Run, transport: Transport) -> None:
    """A resumed run's step counters go on from the server's last steps."""
    try:
        summaries = transport.call(
            "GET", f"/runs/{run.id}/metrics", deadline=time.monotonic() + run.settings.timeout
        )["results"]
    except KirokuError as exc:
        run._reporter.once(
            "resume-steps",
            f"could not read the resumed run's last step ({exc}); steps start at 0 — pass "
            "step= to log() to avoid replacing earlier values",
        )
        return
    user = [s["last_step"] for s in summaries if not s["key"].startswith("system/")]
    system = [s["last_step"] for s in summaries if s["key"].startswith("system/")]
    run._step = max(user, default=-1) + 1
    run._system_step = max(system, default=-1) + 1


def _start_capture_helpers(
    run: Run, options: CaptureOptions | None, datasets: Mapping[str, Any]
) -> None:
    if options is None or _capture is None:
        return
    if options.system_metrics:
        sampler = _capture.SystemMetricsSampler(options.system_metrics_interval, run._log_system)
        sampler.start()
        run._closers.append(lambda _timeout: sampler.stop())
    if options.datasets:
        hasher = _capture.DatasetHasher(run.settings.dir / "cache")
        run._hasher = hasher
        run._closers.append(lambda timeout: hasher.shutdown(wait=True, timeout=timeout))
        for name, path in datasets.items():
            clean = keys.key_clean(name)[0]
            if clean is not None:
                hasher.submit(clean, os.fspath(path), run._dataset_hashed)
