"""Creating the run on the server at ``kiroku.init()``, or finding the one to resume,
within ``settings.init_timeout``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from kiroku import keys
from kiroku.delivery import Deliverer
from kiroku.errors import InvalidInput, NotFound, Unreachable
from kiroku.projects import project_error_explained
from kiroku.report import Reporter
from kiroku.transport import Transport, retry_delay

TERMINAL = ("FINISHED", "FAILED", "KILLED")


@dataclass(frozen=True)
class ServerRun:
    """The run as the server has it when ``init()`` starts recording.

    ``data`` is the server's JSON for the run. ``resumed``: it existed before (the
    create was answered 200 rather than 201, or it was found by its id). ``by_server_id``:
    it was found by its server id rather than its client id, so no create is sent for
    it and what a create would carry (tags, params, datasets) follows in batches."""

    data: dict[str, Any]
    resumed: bool
    by_server_id: bool = False

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def ended(self) -> bool:
        """Whether the run had ended (a requeued job resuming it): the server refuses
        new metrics and params for it until it is reopened."""
        return self.data.get("status") in TERMINAL


def server_run_open(
    transport: Transport,
    reporter: Reporter,
    create: dict[str, Any],
    *,
    id: str | None,
    resume: str,
) -> ServerRun | None:
    """The server's run for the spool-shaped ``create`` record: created, or found by
    ``id`` when ``resume`` allows. None when the server cannot be reached within
    ``init_timeout`` (the sender creates it later).

    Raises InvalidInput when ``resume="never"`` and the run exists (or the server
    refuses the create), NotFound when ``resume="must"`` and it does not (or the
    project cannot be read: the message then names the projects the token can see),
    Unreachable when ``resume="must"`` and the lookup cannot reach the server, and the
    create's error when the server halts it (401/403). ``transport`` is closed when it
    raises."""
    try:
        return _open(transport, reporter, create, id=id, resume=resume)
    except NotFound as exc:
        explained = project_error_explained(transport, create["project"], exc)
        transport.close()
        if explained is exc:
            raise
        raise explained from None
    except BaseException:
        transport.close()
        raise


def _open(
    transport: Transport,
    reporter: Reporter,
    create: dict[str, Any],
    *,
    id: str | None,
    resume: str,
) -> ServerRun | None:
    """``server_run_open`` without the explained 404 and the closing."""
    settings = transport.settings
    deadline = time.monotonic() + settings.init_timeout
    by_server_id = id is not None and keys.RUN_ID_RE.fullmatch(id) is not None
    if id is not None and (resume != "allow" or by_server_id):
        try:
            existing = _lookup(transport, create["project"], id, deadline)
        except Unreachable:
            if resume == "must":
                raise
            existing = None
        if existing is not None and resume == "never":
            raise InvalidInput(
                f"a run with id {id!r} already exists in {create['project']} "
                f"({existing['url']}); pass resume='allow' to continue it",
                status=409,
            )
        if existing is None and resume == "must":
            raise NotFound(f"no run with id {id!r} in project {create['project']}", status=404)
        if existing is not None and existing.get("client_id") != id:
            # Found by its server id: continue it as it is, without a create.
            return ServerRun(data=existing, resumed=True, by_server_id=True)
    deliverer = Deliverer(transport, reporter)
    attempt = 0
    while True:
        outcome = deliverer.deliver(create, None)
        if outcome.done:
            return ServerRun(data=dict(outcome.reply.data), resumed=outcome.reply.status == 200)
        if outcome.halt:
            raise outcome.reply.error()
        delay = retry_delay(settings, attempt, outcome.reply)
        # Nothing listening (refused twice) is not worth waiting out the deadline for.
        gave_up = outcome.reply.refused and attempt >= 1
        if gave_up or time.monotonic() + delay > deadline:
            reporter.once(
                "init-unreachable",
                f"cannot reach {settings.url} ({outcome.reply.describe()}); the run goes on "
                "and is created when the server answers (data is spooled meanwhile)",
            )
            return None
        time.sleep(delay)
        attempt += 1


def _lookup(transport: Transport, project: str, id: str, deadline: float) -> dict[str, Any] | None:
    """The run whose client_id (or server id) is ``id``, or None."""
    quoted = id.replace("'", "''")
    found = transport.call(
        "GET",
        f"/projects/{project}/runs",
        params={"filter": f"client_id = '{quoted}'", "page_size": 1},
        deadline=deadline,
    )
    if found["results"]:
        first: dict[str, Any] = found["results"][0]
        return first
    if keys.RUN_ID_RE.fullmatch(id):
        try:
            run: dict[str, Any] = transport.call("GET", f"/runs/{id}", deadline=deadline)
        except NotFound:
            return None
        return run if run.get("project") == project else None
    return None
