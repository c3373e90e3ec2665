"""What the benchmark scripts share: the workload, the clock and the JSON lines they print."""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.cpu import CpuUse

RESULTS_DIR = Path(__file__).resolve().parent / "results"

# Every ingestion workload logs ten metrics, m0..m9, step by step: point i is metric
# m{i % 10} at step i // 10. Short keys keep a 10,000-point batch well under 4 MiB.
METRIC_KEYS = 10


def env_int(name: str, default: int) -> int:
    """An integer knob from the environment (``BENCH_POINTS=20000``), or the default."""
    raw = os.environ.get(name, "").strip().replace("_", "")
    return int(raw) if raw else default


def int_list(text: str) -> list[int]:
    """``"1,4"`` -> ``[1, 4]``; underscores allowed (``"1_000"``)."""
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def emit(record: dict[str, Any], out: Path | None) -> None:
    """Print one measurement as a JSON line, and append it to ``out`` when given."""
    line = json.dumps(record)
    print(line, flush=True)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def note(message: str) -> None:
    """Progress for the person watching; stderr, so stdout stays JSON lines only."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def metric_points(count: int, *, seed: int) -> Iterator[tuple[str, int, float]]:
    """``count`` points as (key, step, value), values in [0, 1) with six decimals."""
    rng = random.Random(seed)
    for i in range(count):
        yield f"m{i % METRIC_KEYS}", i // METRIC_KEYS, round(rng.random(), 6)


def share(total: int, parts: int) -> list[int]:
    """Split ``total`` points between ``parts`` clients as evenly as whole numbers allow."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def chunked(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def run_concurrently(workers: Sequence[Callable[[], Any]]) -> tuple[float, list[Any]]:
    """Run each worker in its own thread, all released at once.

    Returns the wall-clock seconds from the release to the last worker's end, and each
    worker's return value. The first exception a worker raised is raised here.
    """
    gate = threading.Barrier(len(workers) + 1)
    results: list[Any] = [None] * len(workers)
    errors: list[BaseException] = []

    def body(index: int, work: Callable[[], Any]) -> None:
        gate.wait()
        try:
            results[index] = work()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=body, args=(i, work), daemon=True) for i, work in enumerate(workers)
    ]
    for thread in threads:
        thread.start()
    gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed, results


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks."""
    ordered = sorted(samples)
    if not ordered:
        raise ValueError("no samples")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ingest_record(
    system: str,
    *,
    clients: int,
    batch: int,
    points: int,
    seconds: float,
    cpu: CpuUse | None = None,
    **extra: Any,
) -> dict[str, Any]:
    record = {
        "bench": "ingest",
        "system": system,
        "clients": clients,
        "batch": batch,
        "points": points,
        "seconds": round(seconds, 3),
        "points_per_second": round(points / seconds, 1),
        **extra,
    }
    if cpu is not None:
        record.update(cpu.fields())
        spent = cpu.system_s(client_is_system=system == "raw_sql")
        # CPU microseconds the system spent per point (server + its database backends).
        record["cpu_us_per_point"] = None if spent is None else round(spent / points * 1e6, 2)
    return record


def stamp() -> str:
    """A suffix that keeps names from one invocation apart from earlier ones."""
    return time.strftime("%Y%m%d-%H%M%S")


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """--system, --url and --token: which server a script measures."""
    parser.add_argument("--system", choices=["kiroku", "mlflow"], required=True)
    parser.add_argument("--url", help="server base URL (default: Kiroku :8055, MLflow :5055)")
    parser.add_argument(
        "--token", default=os.environ.get("KIROKU_TOKEN", ""), help="Kiroku token (KIROKU_TOKEN)"
    )


def add_ingest_arguments(parser: argparse.ArgumentParser) -> None:
    """The ingestion workload, shared by bench.ingest and bench.raw_sql."""
    parser.add_argument(
        "--points",
        type=int,
        default=env_int("BENCH_POINTS", 1_000_000),
        help="points per configuration (BENCH_POINTS; default 1,000,000)",
    )
    parser.add_argument("--clients", type=int_list, default=[1, 4], help="e.g. 1,4")
    parser.add_argument("--batches", type=int_list, default=[1_000, 10_000], help="e.g. 1000,10000")


def add_output_arguments(parser: argparse.ArgumentParser, *, rounds: bool = False) -> None:
    """--out, and --rounds for the ingestion scripts."""
    if rounds:
        parser.add_argument(
            "--rounds",
            type=int,
            default=env_int("BENCH_ROUNDS", 1),
            help="measure every configuration this many times, the rounds interleaved "
            "(BENCH_ROUNDS; default 1); bench.report keeps each configuration's best round",
        )
    parser.add_argument("--out", type=Path, help="also append the JSON lines to this file")
