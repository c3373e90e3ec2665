"""Delivering one spool-shaped record (create, log batch, finish) to the server: the
one place that decides what each answer means. The live sender and ``kiroku sync``
both use it, so a batch is handled the same way now or a week later.

- A 400/409 that names an item (``metrics[3].value``, ``params.lr``) drops that item,
  says so once, and sends the rest under a derived ``batch_id`` (``<id>.d1``,
  ``<id>.d2``...). The derivation is deterministic, so replaying the same record
  later derives the same ids and the server's ``batch_id`` memory keeps it exactly-once.
- A 413 splits the batch in halves (``<id>.a``, ``<id>.b``): a proxy in front of the
  server may allow less than the server's 4 MiB.
- 401, 403 and 404 halt delivery: nothing this process sends can succeed, so the data
  stays in the spool for ``kiroku sync`` once the token or run is fixed.
- Any other permanent refusal drops the record, said once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from kiroku.report import Reporter
from kiroku.transport import Reply, Transport

HALTING_STATUSES = frozenset({401, 403, 404})
_LIST_ITEM = re.compile(r"^(metrics|datasets)\[(\d+)\]")
_MAP_ITEM = re.compile(r"^(params|tags|summary)\.(.+)$")
_MAX_BATCH_ID = 64


@dataclass
class Outcome:
    """``done``: acknowledge the record (delivered, or dropped for good). ``halt``: stop
    all delivery (auth or a missing run). Neither: a transient failure; retry later."""

    done: bool
    reply: Reply
    run_id: str | None = None
    halt: bool = False


def derived_id(base: str, suffix: str) -> str:
    batch_id = f"{base}.{suffix}"
    if len(batch_id) <= _MAX_BATCH_ID:
        return batch_id
    # Still deterministic, still within the server's 64 characters.
    return "h" + hashlib.sha256(batch_id.encode()).hexdigest()[:40]


def body_without_item(body: dict[str, Any], field: str | None) -> tuple[dict[str, Any], str] | None:
    """``body`` without the item the server's error ``field`` names, and a description
    of that item; None when the field names no single item."""
    if not field:
        return None
    match = _LIST_ITEM.match(field)
    if match:
        name, index = match.group(1), int(match.group(2))
        items = body.get(name)
        if not isinstance(items, list) or index >= len(items):
            return None
        item = items[index]
        what = (
            f"{name} item {item.get('key') or item.get('name')!r}"
            if isinstance(item, dict)
            else name
        )
        if name == "metrics" and isinstance(item, dict):
            what = f"point {item.get('key')!r} = {item.get('value')!r} at step {item.get('step')}"
        return {**body, name: items[:index] + items[index + 1 :]}, what
    match = _MAP_ITEM.match(field)
    if match:
        name, key = match.group(1), match.group(2)
        mapping = body.get(name)
        if not isinstance(mapping, dict) or key not in mapping:
            return None
        rest = {k: v for k, v in mapping.items() if k != key}
        return {**body, name: rest}, f"{name[:-1] if name != 'summary' else name} {key!r}"
    return None


def _is_empty(body: dict[str, Any]) -> bool:
    return not any(body.get(k) for k in ("metrics", "params", "tags", "summary", "datasets"))


def _kind(reply: Reply) -> str:
    # One report per kind of refusal, not per item: digits in the field are wildcarded.
    return f"{reply.status}:{reply.code}:{re.sub(r'[0-9]+', '*', reply.field or '')}"


class Deliverer:
    """Delivers records over one Transport, reporting each kind of refusal once."""

    def __init__(self, transport: Transport, reporter: Reporter) -> None:
        self.transport = transport
        self.reporter = reporter

    def deliver(self, record: dict[str, Any], run_id: str | None) -> Outcome:
        kind = record["kind"]
        if kind == "create":
            return self._create(record)
        assert run_id is not None, "the run must be created before its data is sent"
        if kind == "log":
            return self._log(run_id, record["body"])
        return self._finish(run_id, record["body"])

    def _halt_or_drop(self, reply: Reply, what: str) -> Outcome:
        if reply.status in HALTING_STATUSES:
            return Outcome(done=False, reply=reply, halt=True)
        self.reporter.once(f"drop:{_kind(reply)}", f"the server refused {what}: {reply.describe()}")
        return Outcome(done=True, reply=reply)

    def _create(self, record: dict[str, Any]) -> Outcome:
        body = record["body"]
        while True:
            reply = self.transport.request("POST", f"/projects/{record['project']}/runs", body=body)
            field = reply.field or ""
            if reply.status == 400 and field.split(".")[0] in ("git", "environment"):
                # Capture went wrong (too large, a bad value): the run matters more.
                self.reporter.once(
                    f"create:{field}", f"the server refused {field} ({reply.message}); left it out"
                )
                body = {k: v for k, v in body.items() if k != field.split(".")[0]}
                continue
            break
        if reply.transient:
            return Outcome(done=False, reply=reply)
        if not reply.ok:
            # Without a run nothing else can be sent: keep it all for `kiroku sync`.
            return Outcome(done=False, reply=reply, halt=True)
        run_id = str(reply.data["id"])
        if reply.status == 200:
            # The run existed (a resume, or a retried create): the server ignored what
            # the create carried, so send it as batches. Params apart: an ended run
            # refuses them (and write-once params may refuse a change), not its tags.
            session = record.get("session", run_id[:12])
            for suffix, names in (("0t", ("tags", "datasets")), ("0p", ("params",))):
                followup = {k: body[k] for k in names if body.get(k)}
                if not followup:
                    continue
                outcome = self._log(run_id, {"batch_id": f"{session}-{suffix}", **followup})
                if not outcome.done:
                    return Outcome(done=False, reply=outcome.reply, halt=outcome.halt)
        return Outcome(done=True, reply=reply, run_id=run_id)

    def _finish(self, run_id: str, body: dict[str, Any]) -> Outcome:
        reply = self.transport.request("POST", f"/runs/{run_id}/finish", body=body)
        if reply.ok or reply.transient:
            return Outcome(done=reply.ok, reply=reply)
        return self._halt_or_drop(reply, f"finishing the run as {body.get('status')}")

    def _log(self, run_id: str, body: dict[str, Any]) -> Outcome:
        base = str(body["batch_id"])
        drops = 0
        while True:
            reply = self.transport.request("POST", f"/runs/{run_id}/log", body=body)
            if reply.ok or reply.transient:
                return Outcome(done=reply.ok, reply=reply)
            if reply.status == 413:
                return self._split(run_id, body, reply)
            smaller = (
                body_without_item(body, reply.field) if reply.status in (400, 409, 422) else None
            )
            if smaller is None:
                return self._halt_or_drop(reply, f"batch {base}")
            body, what = smaller
            self.reporter.once(
                f"item:{_kind(reply)}",
                f"the server refused {what}: {reply.describe()} — dropped it and kept the "
                "rest (further refusals like this are counted, not shown)",
            )
            if _is_empty(body):
                return Outcome(done=True, reply=reply)
            drops += 1
            body = {**body, "batch_id": derived_id(base, f"d{drops}")}

    def _split(self, run_id: str, body: dict[str, Any], reply: Reply) -> Outcome:
        points = body.get("metrics") or []
        if len(points) < 2:
            return self._halt_or_drop(reply, f"batch {body['batch_id']} (too large to send)")
        self.reporter.once(
            "split",
            f"the server (or a proxy) refused a {len(points)}-point batch as too large "
            f"({reply.describe()}); sending it in smaller pieces",
        )
        middle = len(points) // 2
        for suffix, part in (("a", points[:middle]), ("b", points[middle:])):
            half = {"batch_id": derived_id(str(body["batch_id"]), suffix), "metrics": part}
            outcome = self._log(run_id, half)
            if not outcome.done:
                return outcome  # a retry replays both halves; the server dedupes the first
        meta = {k: v for k, v in body.items() if k not in ("metrics", "batch_id") and v}
        if meta:
            rest = {"batch_id": derived_id(str(body["batch_id"]), "m"), **meta}
            return self._log(run_id, rest)
        return Outcome(done=True, reply=reply)
