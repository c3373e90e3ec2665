"""The domain event types Kiroku writes to the outbox. Registering the same name twice
is an error.

Each type has a stable dotted name (what ``DomainEvent.type`` stores and subscribers
match on) and documents its payload: the keys a subscriber may rely on. The constants
are the names themselves, because subscribers and the notification catalogue match
and key on the stored string.

Register a type only together with a subscriber for it: every event written costs an
outbox row and a dispatch task, which buys nothing when no one listens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class EventType:
    name: str
    # Payload key -> what it holds.
    payload: Mapping[str, str]


_TYPES: dict[str, EventType] = {}


def register(name: str, *, payload: Mapping[str, str]) -> str:
    """Register ``name`` with its documented payload and return the name.

    Raises ``ValueError`` when ``name`` is registered already or its payload is not
    documented."""
    if name in _TYPES:
        raise ValueError(f"domain event {name!r} is registered twice")
    if not payload:
        raise ValueError(f"domain event {name!r} must document its payload")
    _TYPES[name] = EventType(name, MappingProxyType(dict(payload)))
    return name


def get(name: str) -> EventType:
    """The registered type ``name``; ``KeyError`` naming this module when there is none."""
    try:
        return _TYPES[name]
    except KeyError:
        raise KeyError(
            f"domain event {name!r} is not registered; add it in apps/events/registry.py"
        ) from None


def names() -> list[str]:
    return sorted(_TYPES)


# Runs (apps/runs, apps/ci). A run ends once: finished, failed or killed by its client,
# or crashed when its heartbeat went stale.
_RUN = {
    "run_id": "the run's public id",
    "name": "the run's name",
    "status": "the run's status when the event was written",
    "project": "the project's slug",
}
_RUN_ENDED_BY_CLIENT = {
    **_RUN,
    "ci_report": "true when a CI report ended the run (its ci.reported event tells of it); "
    "absent otherwise",
}
RUN_FINISHED = register("run.finished", payload=_RUN_ENDED_BY_CLIENT)
RUN_FAILED = register("run.failed", payload=_RUN_ENDED_BY_CLIENT)
RUN_KILLED = register("run.killed", payload=_RUN_ENDED_BY_CLIENT)
RUN_CRASHED = register("run.crashed", payload=_RUN)
RUN_METRICS_UPDATED = register(
    "run.metrics_updated",
    payload={
        "run_id": "the run's public id; coalesced to at most one event per run every "
        "KIROKU_METRICS_EVENT_INTERVAL seconds, so subscribers read the current summaries",
    },
)

# Comments (apps/collab): written only when the comment mentions project members.
COMMENT_MENTION = register(
    "comment.mention",
    payload={
        "comment_id": "the comment's id",
        "run_id": "the commented run's public id (absent on a comparison's comment)",
        "comparison_id": "the commented saved comparison's id (absent on a run's comment)",
        "author": "the author's label (a user name, or a service token's)",
        "mentioned": "the usernames mentioned, sorted",
        "excerpt": "the start of the comment's markdown body (user text)",
    },
)

# CI (apps/ci): a CI job reported its results for a run.
CI_REPORTED = register(
    "ci.reported",
    payload={
        **_RUN,
        "verdict": "passed, regressed or no_baseline",
        "summary": "a few plain lines: the verdict, the gates that failed, the tests",
        "baseline_run": "the baseline run's public id, or null",
        "baseline_label": "how the baseline was chosen",
        "metrics": "the key metric names for messages, gated ones first",
    },
)

# The model registry (apps/registry). Model names, reasons, comments and descriptions
# are user text. ``run_id`` is the public id of the run the version comes from (the
# event's run, so rules' run filters apply to it).
_MODEL_VERSION = {
    "project": "the project's slug",
    "model": "the registered model's name",
    "model_id": "the registered model's id",
    "version": "the version's number",
    "run_id": "the public id of the run the version comes from",
    "actor": "who did it: a user name, or a service token's label",
}
MODEL_VERSION_CREATED = register(
    "model.version_created",
    payload={**_MODEL_VERSION, "description": "the version's description (may be empty)"},
)
MODEL_ALIAS_MOVED = register(
    "model.alias_moved",
    payload={
        **_MODEL_VERSION,
        "alias": "the alias now pointing at the version",
        "previous_version": "the number it pointed at before, or null",
        "previous_run_id": "the public id of that version's run, or null",
        "reason": "why it moved (empty when none was given; an approved promotion's reason)",
        "promotion_request": "the approved promotion request's id; absent for a direct move",
    },
)
_PROMOTION = {
    **_MODEL_VERSION,
    "alias": "the alias the version is to get",
    "request_id": "the promotion request's id",
    "reason": "why the requester asks for it",
    "current_version": "the number the alias points at now, or null",
    "current_run_id": "the public id of that version's run, or null",
}
MODEL_PROMOTION_REQUESTED = register(
    "model.promotion_requested",
    payload={**_PROMOTION, "actor": "the requester's label"},
)
MODEL_PROMOTION_DECIDED = register(
    "model.promotion_decided",
    payload={
        **_PROMOTION,
        "actor": "the deciding admin's label",
        "decision": "approved or rejected (an approval also writes model.alias_moved)",
        "comment": "the admin's comment (may be empty)",
        "requested_by": "the requester's user name, or empty when the user is gone",
    },
)
