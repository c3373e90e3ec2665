"""The background system-metrics sampler: valid keys, sane values, a clean stop.

GPU values come from a fake ``nvidia-smi`` first on the PATH (see test_capture_gpus.py:
no loopback version of the NVIDIA driver exists on CPU machines)."""

from __future__ import annotations

import json
import math
import stat
import sys
import threading
from pathlib import Path

import pytest
from kiroku.capture import SystemMetricsSampler
from kiroku.capture import system as system_module
from kiroku.keys import key_clean

WAIT = 30  # seconds; a bound on background work, never a measurement
KEY_TABLE = Path(__file__).resolve().parents[1] / "fixtures" / "keys.json"

FAKE_NVIDIA_SMI = """#!/bin/sh
echo call >> "$(dirname "$0")/calls"
case "$*" in
  *--query-gpu=index,utilization.gpu,memory.used*)
    echo "0, 87, 40000"
    echo "1, 3, 1024"
    ;;
  *) exit 2 ;;
esac
"""

LINUX_ONLY = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="CPU and memory come from /proc on Linux"
)


def fake_nvidia_smi(directory: Path, script: str, monkeypatch) -> Path:
    directory.mkdir(exist_ok=True)
    tool = directory / "nvidia-smi"
    tool.write_text(script)
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{directory}:/usr/bin:/bin")
    return directory / "calls"


class Samples:
    def __init__(self, wanted: int) -> None:
        self.items: list[dict[str, float]] = []
        self.wanted = wanted
        self.enough = threading.Event()

    def __call__(self, values: dict[str, float]) -> None:
        self.items.append(values)
        if len(self.items) >= self.wanted:
            self.enough.set()


def collect(wanted: int, interval: float = 0.01) -> list[dict[str, float]]:
    samples = Samples(wanted)
    sampler = SystemMetricsSampler(interval, samples)
    sampler.start()
    assert samples.enough.wait(WAIT)
    sampler.stop()
    return samples.items


@LINUX_ONLY
def test_samples_carry_cpu_memory_and_each_gpu(tmp_path, monkeypatch):
    fake_nvidia_smi(tmp_path / "bin", FAKE_NVIDIA_SMI, monkeypatch)

    samples = collect(2, interval=0.1)  # /proc/stat counts in 10 ms ticks

    assert set(samples[-1]) == {
        "system/cpu_percent",
        "system/memory_percent",
        "system/memory_used_bytes",
        "system/gpu.0.utilization_percent",
        "system/gpu.0.memory_used_bytes",
        "system/gpu.1.utilization_percent",
        "system/gpu.1.memory_used_bytes",
    }
    last = samples[-1]
    assert 0 <= last["system/cpu_percent"] <= 100
    assert 0 < last["system/memory_percent"] <= 100
    assert last["system/memory_used_bytes"] > 0
    assert last["system/gpu.0.utilization_percent"] == 87
    assert last["system/gpu.1.memory_used_bytes"] == 1024 * 1024 * 1024


def test_every_emitted_key_is_one_the_server_accepts(tmp_path, monkeypatch):
    fake_nvidia_smi(tmp_path / "bin", FAKE_NVIDIA_SMI, monkeypatch)

    keys = {key for sample in collect(2) for key in sample}

    assert keys
    for key in keys:
        assert key_clean(key) == (key, None), key


def test_the_key_validator_used_above_agrees_with_the_shared_table():
    """So that the check above means what the server means."""
    table = json.loads(KEY_TABLE.read_text())
    assert all(key_clean(k)[1] is None for k in table["valid"])
    assert all(key_clean(k)[1] is not None for k in table["invalid"])


def test_values_are_finite_numbers(tmp_path, monkeypatch):
    fake_nvidia_smi(tmp_path / "bin", FAKE_NVIDIA_SMI, monkeypatch)

    for sample in collect(3):
        for value in sample.values():
            assert isinstance(value, float | int)
            assert math.isfinite(value)


def test_nothing_is_emitted_after_stop(tmp_path, monkeypatch):
    fake_nvidia_smi(tmp_path / "bin", FAKE_NVIDIA_SMI, monkeypatch)
    samples = Samples(1)
    sampler = SystemMetricsSampler(0.01, samples)
    sampler.start()
    assert samples.enough.wait(WAIT)

    sampler.stop()
    count = len(samples.items)
    sampler._thread.join(WAIT)

    assert not sampler._thread.is_alive()
    assert len(samples.items) == count
    sampler.stop()  # idempotent


def test_an_emit_that_raises_does_not_stop_sampling(tmp_path, monkeypatch):
    fake_nvidia_smi(tmp_path / "bin", FAKE_NVIDIA_SMI, monkeypatch)
    calls: list[dict] = []
    enough = threading.Event()

    def flaky(values: dict[str, float]) -> None:
        calls.append(values)
        if len(calls) >= 3:
            enough.set()
        raise RuntimeError("the queue is full")

    sampler = SystemMetricsSampler(0.01, flaky)
    sampler.start()
    assert enough.wait(WAIT)
    sampler.stop()


def test_a_broken_nvidia_smi_is_given_up_after_three_tries(tmp_path, monkeypatch):
    calls = fake_nvidia_smi(
        tmp_path / "bin",
        '#!/bin/sh\necho call >> "$(dirname "$0")/calls"\nexit 9\n',
        monkeypatch,
    )

    samples = collect(6)

    assert len(calls.read_text().splitlines()) == system_module.GPU_FAILURES_BEFORE_GIVING_UP
    assert not any(key.startswith("system/gpu.") for s in samples for key in s)


def test_without_nvidia_smi_only_cpu_and_memory_are_sampled(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    sampler = SystemMetricsSampler(1.0, lambda values: None)

    first = sampler.sample()

    assert not any(key.startswith("system/gpu.") for key in first)
