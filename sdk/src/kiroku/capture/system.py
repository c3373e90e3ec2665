"""System metrics sampled in the background: CPU, memory and, per GPU, utilisation and
memory, as ``system/*`` metric keys.

On Linux CPU and memory come from ``/proc/stat`` and ``/proc/meminfo``; elsewhere from
``psutil`` when it is installed (an optional extra), else they are left out. GPUs come
from ``nvidia-smi``; after three failures in a row it is no longer asked, so a broken
driver costs three timeouts, not one per sample.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from kiroku.capture import gpus
from kiroku.capture._process import log

CPU_PERCENT = "system/cpu_percent"
MEMORY_PERCENT = "system/memory_percent"
MEMORY_USED = "system/memory_used_bytes"
GPU_UTILIZATION = "system/gpu.{index}.utilization_percent"
GPU_MEMORY_USED = "system/gpu.{index}.memory_used_bytes"
MIN_INTERVAL = 0.01
GPU_FAILURES_BEFORE_GIVING_UP = 3

try:  # optional: only used where /proc is missing
    import psutil
except ImportError:  # pragma: no cover - depends on the installation
    psutil = None


class SystemMetricsSampler:
    """Calls ``emit({key: value})`` every ``interval`` seconds on a daemon thread, the
    first time one interval after ``start``. A probe that fails is left out of that
    sample; an ``emit`` that raises is logged at debug level. ``start`` and ``stop``
    are idempotent; ``stop`` returns once the thread has ended (at most one sample's
    probes later) and nothing is emitted after it."""

    def __init__(self, interval: float, emit: Callable[[dict[str, float]], None]) -> None:
        self.interval = max(MIN_INTERVAL, float(interval))
        self._emit = emit
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._cpu = _CpuTimes()
        self._gpu_failures = 0

    def start(self) -> None:
        with self._lock:
            if self._thread is not None or self._stopped.is_set():
                return
            self._cpu.sample()  # the baseline the first CPU percentage is measured from
            self._thread = threading.Thread(
                target=self._loop, name="kiroku-system-metrics", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped.set()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.interval + 10)

    def sample(self) -> dict[str, float]:
        """One sample now (what the thread emits). Never raises."""
        values: dict[str, float] = {}
        for probe in (self._cpu_percent, _memory, self._gpus):
            try:
                values.update(probe())
            except Exception as exc:  # a failing probe is left out
                log.debug("system metrics: %s failed: %s", getattr(probe, "__name__", probe), exc)
        return values

    def _loop(self) -> None:
        next_at = time.monotonic() + self.interval
        while not self._stopped.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.interval
            if next_at < time.monotonic():  # fell behind (suspended laptop): skip ahead
                next_at = time.monotonic() + self.interval
            values = self.sample()
            if not values or self._stopped.is_set():
                continue
            try:
                self._emit(values)
            except Exception:  # the sampler outlives a failing consumer
                log.debug("system metrics: emit raised", exc_info=True)

    def _cpu_percent(self) -> dict[str, float]:
        percent = self._cpu.sample()
        return {} if percent is None else {CPU_PERCENT: percent}

    def _gpus(self) -> dict[str, float]:
        if self._gpu_failures >= GPU_FAILURES_BEFORE_GIVING_UP:
            return {}
        try:
            usage = gpus.gpu_usage(timeout=min(5.0, max(1.0, self.interval)))
        except Exception:
            self._gpu_failures += 1
            raise
        self._gpu_failures = 0
        values: dict[str, float] = {}
        for index, utilization, memory_used in usage or []:
            if utilization is not None:
                values[GPU_UTILIZATION.format(index=index)] = utilization
            if memory_used is not None:
                values[GPU_MEMORY_USED.format(index=index)] = float(memory_used)
        return values


class _CpuTimes:
    """Whole-machine CPU use between two calls, from ``/proc/stat`` (or ``psutil``)."""

    def __init__(self) -> None:
        self._last: tuple[int, int] | None = None

    def sample(self) -> float | None:
        stat_file = Path("/proc/stat")
        if not stat_file.exists():
            if psutil is None:
                return None
            return float(psutil.cpu_percent(interval=None))
        with stat_file.open() as handle:
            fields = handle.readline().split()
        if not fields or fields[0] != "cpu":
            return None
        # user nice system idle iowait irq softirq steal (guest time is inside user).
        ticks = [int(v) for v in fields[1:9]]
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
        total = sum(ticks)
        last, self._last = self._last, (total, idle)
        if last is None or total <= last[0]:
            return None
        busy = (total - last[0]) - (idle - last[1])
        return round(100.0 * busy / (total - last[0]), 2)


def _memory() -> dict[str, float]:
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        fields: dict[str, int] = {}
        for line in meminfo.read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("MemTotal", "MemAvailable", "MemFree", "Buffers", "Cached"):
                fields[name] = int(rest.split()[0]) * 1024
        total = fields["MemTotal"]
        available = fields.get("MemAvailable")
        if available is None:  # kernels before 3.14
            available = fields["MemFree"] + fields.get("Buffers", 0) + fields.get("Cached", 0)
    elif psutil is not None:
        memory = psutil.virtual_memory()
        total, available = int(memory.total), int(memory.available)
    else:
        return {}
    used = max(0, total - available)
    return {MEMORY_PERCENT: round(100.0 * used / total, 2), MEMORY_USED: float(used)}
