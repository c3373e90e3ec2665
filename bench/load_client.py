"""One SDK client of bench.load, in its own process: a training loop that logs
``--keys`` metrics every step at ``--rate`` steps a second for ``--duration`` seconds.

Protocol with bench.load: after ``kiroku.init()`` the client prints one JSON line
``{"ready": true, ...}`` and waits for ``GO <unix time>`` on stdin; step ``i`` is
logged at ``start + i / rate`` (no drift: a late step is logged at once, not
rescheduled) until ``start + duration``. Then it finishes the run (waiting at most
``--finish-timeout``) and prints one JSON line with what it did.

Values are ``value(client, key, step)``, so the checker knows every point sent.
``kiroku.transport.Transport.request`` is wrapped to time every request the SDK
makes (a measurement hook: one ``perf_counter`` pair and a list append per request;
the time includes the SDK's JSON encoding of the body, ~1 ms for 500 points).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "load"


def value(client: int, key: int, step: int) -> float:
    """The value client ``client`` logs for key ``k{key}`` at ``step``: distinct per
    (client, key, step) within a run's range, exactly representable in JSON and float8."""
    return ((client * 7_919 + key * 104_729 + step * 1_299_709) % 1_000_003) / 1_000_003


def request_kind(method: str, path: str) -> str:
    if path.endswith("/log"):
        return "log"
    if path.endswith("/heartbeat"):
        return "heartbeat"
    if path.endswith("/finish"):
        return "finish"
    if method == "POST" and path.startswith("/projects/"):
        return "create"
    return "other"


def install_timer(samples: list[list[Any]]) -> None:
    """Record ``[unix time, ms, kind, outcome, points, batch_id]`` for every request;
    ``outcome`` is the HTTP status, or ``refused`` / ``timeout`` / ``network`` when no
    answer came."""
    from kiroku import transport

    original = transport.Transport.request

    def timed(
        self: Any, method: str, path: str, *, body: Any = None, params: Any = None
    ) -> transport.Reply:
        began = time.time()
        clock = time.perf_counter()
        reply = original(self, method, path, body=body, params=params)
        elapsed_ms = (time.perf_counter() - clock) * 1000
        if reply.status is not None:
            outcome: int | str = reply.status
        elif reply.refused:
            outcome = "refused"
        elif reply.message.startswith("timed out"):
            outcome = "timeout"
        else:
            outcome = "network"
        kind = request_kind(method, path)
        points, batch_id = 0, None
        if kind == "log" and isinstance(body, dict):
            points, batch_id = len(body.get("metrics") or ()), body.get("batch_id")
        samples.append([round(began, 3), round(elapsed_ms, 2), kind, outcome, points, batch_id])
        return reply

    transport.Transport.request = timed  # type: ignore[method-assign]


class Warnings(logging.Handler):
    """The SDK's own reports (retries given up, spooling, drops), kept for the JSON."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.messages) < 20:
            self.messages.append(f"{record.levelname}: {record.getMessage()[:300]}")


class Monitor(threading.Thread):
    """Samples the sender's backlog (points not yet delivered: memory, in flight,
    spool) and state every second."""

    def __init__(self, sender: Any) -> None:
        super().__init__(daemon=True)
        self.sender = sender
        self.backlog_max = 0
        self.spool_max = 0
        self.states: set[str] = set()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(1.0):
            self.backlog_max = max(self.backlog_max, self.sender.backlog())
            self.spool_max = max(self.spool_max, self.sender.spool.pending_points)
            self.states.add(self.sender.state)


def main(args: argparse.Namespace) -> None:
    """The token comes from KIROKU_TOKEN (kept off the command line)."""
    sys.path.insert(0, str(ROOT / "sdk" / "src"))
    import kiroku

    samples: list[list[Any]] = []
    install_timer(samples)
    warnings = Warnings()
    logging.getLogger("kiroku").addHandler(warnings)

    run = kiroku.init(
        project=PROJECT,
        name=f"load-{args.client}",
        url=args.url,
        dir=args.dir,
        capture=False,
    )
    sender = run._sender  # the measurement reads the SDK's own backlog figures
    print(json.dumps({"ready": True, "client": args.client, "run_id": run.id}), flush=True)
    command = sys.stdin.readline().split()
    if len(command) != 2 or command[0] != "GO":
        raise SystemExit(f"expected 'GO <time>' on stdin, got {command!r}")
    start = float(command[1])
    monitor = Monitor(sender)
    monitor.start()

    names = [f"k{k}" for k in range(args.keys)]
    end = start + args.duration
    step = 0
    late_steps = 0
    while True:
        due = start + step / args.rate
        if due >= end:
            break
        wait = due - time.time()
        if wait > 0:
            time.sleep(wait)
        elif wait < -0.1:
            late_steps += 1
        run.log({name: value(args.client, k, step) for k, name in enumerate(names)}, step=step)
        step += 1

    backlog_at_end = sender.backlog()
    state_at_end = sender.state
    began = time.perf_counter()
    run.finish(timeout=args.finish_timeout)
    finish_s = time.perf_counter() - began
    monitor.stop.set()
    record = {
        "client": args.client,
        "run_id": run.id,
        "client_id": run.client_id,
        "steps": step,
        "keys": args.keys,
        "points_logged": step * args.keys,
        "late_steps": late_steps,
        "backlog_max": max(monitor.backlog_max, backlog_at_end),
        "backlog_at_end": backlog_at_end,
        "spool_max": monitor.spool_max,
        "state_at_end": state_at_end,
        "states": sorted(monitor.states | {state_at_end}),
        "finish_s": round(finish_s, 3),
        "sent_points": sender.sent_points,
        "spool_left": sender.spool_left,
        "spool_path": str(sender.spool.path),
        "warnings": warnings.messages,
        "samples": [[round(s[0] - start, 3), *s[1:]] for s in samples],
    }
    print(json.dumps(record), flush=True)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="one SDK client of bench.load")
    parser.add_argument("--client", type=int, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--dir", required=True, help="KIROKU_DIR: spool and caches")
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--keys", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="steps per second")
    parser.add_argument("--finish-timeout", type=float, required=True)
    return parser.parse_args()


if __name__ == "__main__":
    main(parse())
