"""The timed loop of bench.sdk_overhead, run in a child process per case.

Standard library only: it also runs inside MLflow's own virtual environment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from array import array
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / ".venv" / "bin" / "python"
MLFLOW_PY = ROOT / "bench" / ".mlflow-venv" / "bin" / "python"
MLFLOW_BIN = ROOT / "bench" / ".mlflow-venv" / "bin" / "mlflow"
PROJECT = "sdkbench"
STATES = ("healthy", "slow", "down")


def note(message: str) -> None:
    print(f"[sdk_overhead] {message}", file=sys.stderr, flush=True)


def load_1m() -> float:
    return round(os.getloadavg()[0], 2)


# --- the timed loop (runs in the child; standard library only) ------------------------


class Loop:
    """A timed loop: per-call latency of ``call(i)`` over up to ``calls`` calls (fewer
    when ``seconds`` run out: the deadline is checked before each call), after an
    untimed burst of ``burst`` calls that gives the calls-per-second figure."""

    def __init__(self, call: Any, *, calls: int, burst: int, seconds: float) -> None:
        self.call, self.calls, self.burst, self.seconds = call, calls, burst, seconds
        self.samples = array("q")
        self.result: dict[str, Any] = {}
        self.started = time.perf_counter_ns()

    def run(self) -> dict:
        clock = time.perf_counter_ns
        call = self.call
        if self.burst:
            started = clock()
            for i in range(self.burst):
                call(i)
            self.result["calls_per_s"] = round(self.burst / ((clock() - started) / 1e9))
        append = self.samples.append
        self.started = clock()
        deadline = self.started + int(self.seconds * 1e9)
        for i in range(self.calls):
            before = clock()
            if before > deadline:
                break
            call(i)
            append(clock() - before)
        return self.summary()

    def summary(self) -> dict:
        ordered = sorted(self.samples)
        elapsed = (time.perf_counter_ns() - self.started) / 1e9
        result = dict(self.result, timed_calls=len(ordered))
        if not ordered:
            return result

        def pct(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000, 2)

        result.update(
            {
                "timed_calls_per_s": round(len(ordered) / elapsed) if elapsed else None,
                "p50_us": pct(0.50),
                "p99_us": pct(0.99),
                "p999_us": pct(0.999),
                "max_us": round(ordered[-1] / 1000, 2),
                "over_1ms": sum(1 for s in ordered if s > 1_000_000),
            }
        )
        return result


def watchdog(seconds: float, record: dict, loop: Loop) -> threading.Timer:
    """Report what was measured and end the child if a single call is still blocked
    ``seconds`` after the loop began (cancel the returned timer once it is over)."""

    def fire() -> None:
        record.update(loop.summary())
        record.update({"blocked": True, "note": f"a call was still blocked after {seconds} s"})
        print(json.dumps(record), flush=True)
        os._exit(0)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


def child_kiroku(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT / "sdk" / "src"))
    import kiroku

    record: dict[str, Any] = {"client": "kiroku", "state": args.state}
    started = time.perf_counter()
    run = kiroku.init(
        project=PROJECT, url=args.url, token=args.token, name=f"overhead-{args.state}"
    )
    record["init_s"] = round(time.perf_counter() - started, 3)
    values = [0.5 + k * 1e-4 for k in range(1024)]
    log = run.log

    def call(i: int) -> None:
        log({"loss": values[i & 1023]})

    for i in range(10_000):
        call(i)
    loop = Loop(call, calls=args.calls, burst=args.burst, seconds=args.seconds)
    timer = watchdog(args.seconds + 60, record, loop)
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        record.update(profiler.runcall(loop.run))
        with open(f"{args.profile}-{args.state}.txt", "w") as handle:
            stats = pstats.Stats(profiler, stream=handle).sort_stats("cumulative")
            stats.print_stats(25)
    else:
        record.update(loop.run())
    timer.cancel()
    record["points_logged"] = 10_000 + args.burst + record["timed_calls"]
    started = time.perf_counter()
    run.finish()
    record["finish_s"] = round(time.perf_counter() - started, 3)
    print(json.dumps(record), flush=True)
    os._exit(0)


def child_mlflow(args: argparse.Namespace) -> None:
    import mlflow

    synchronous = args.mode == "sync"
    record: dict[str, Any] = {
        "client": f"mlflow-{args.mode}",
        "state": args.state,
        "mlflow": mlflow.__version__,
    }
    mlflow.set_tracking_uri(args.url)
    mlflow.set_experiment("sdk-overhead")
    started = time.perf_counter()
    mlflow.start_run(run_name=f"overhead-{args.mode}-{args.state}")
    record["init_s"] = round(time.perf_counter() - started, 3)
    if args.log_url != args.url:
        mlflow.set_tracking_uri(args.log_url)
    values = [0.5 + k * 1e-4 for k in range(1024)]

    def call(i: int) -> None:
        mlflow.log_metric("loss", values[i & 1023], step=i, synchronous=synchronous)

    if args.state == "healthy":
        for i in range(20):
            call(i)
    loop = Loop(call, calls=args.calls, burst=0, seconds=args.seconds)
    timer = watchdog(args.seconds + 10, record, loop)
    record.update(loop.run())
    timer.cancel()
    if args.state == "healthy":
        started = time.perf_counter()
        if not synchronous:
            mlflow.flush_async_logging()
        mlflow.end_run()
        record["finish_s"] = round(time.perf_counter() - started, 3)
    print(json.dumps(record), flush=True)
    os._exit(0)  # skip MLflow's exit hooks, which wait on a dead server


def parse() -> argparse.Namespace:
    """The child's arguments; bench.sdk_overhead passes them."""
    parser = argparse.ArgumentParser(description="one case of bench.sdk_overhead")
    parser.add_argument("client", choices=["kiroku", "mlflow"])
    parser.add_argument("--state", choices=STATES, required=True)
    parser.add_argument("--mode", choices=["sync", "async"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--log-url")
    parser.add_argument("--token")
    parser.add_argument("--calls", type=int, required=True)
    parser.add_argument("--burst", type=int, default=0)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--profile")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    (child_kiroku if arguments.client == "kiroku" else child_mlflow)(arguments)
