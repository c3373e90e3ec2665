"""GPU inventory and usage from ``nvidia-smi``.

This is a boundary with no loopback version on CPU machines: the real tool needs an
NVIDIA driver. The tests put a fake ``nvidia-smi`` first on the PATH that answers the
exact queries the SDK makes in the documented CSV format
(``--format=csv,noheader,nounits``), including ``[N/A]`` cells, a failing driver and
a hung one. On a GPU machine, ``nvidia-smi --query-gpu=index,name,memory.total,
driver_version,uuid --format=csv,noheader,nounits`` shows what the real one answers.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from kiroku.capture import CaptureOptions, capture_run_context
from kiroku.capture._process import ProbeError
from kiroku.capture.gpus import gpu_inventory, gpu_usage

MIB = 1024 * 1024

FAKE_NVIDIA_SMI = """#!/bin/sh
case "$*" in
  *--query-gpu=index,name,memory.total,driver_version,uuid*--format=csv,noheader,nounits*)
    echo "0, NVIDIA H100 80GB HBM3, 81559, 550.54.15, GPU-6f1c2d3e-aaaa-bbbb-cccc-000000000000"
    echo "1, NVIDIA H100 80GB HBM3, [N/A], 550.54.15, GPU-6f1c2d3e-aaaa-bbbb-cccc-111111111111"
    ;;
  *--query-gpu=index,utilization.gpu,memory.used*--format=csv,noheader,nounits*)
    echo "0, 87, 40000"
    echo "1, [N/A], 1024"
    ;;
  *) echo "unexpected arguments: $*" >&2; exit 2 ;;
esac
"""


def install_fake(directory: Path, script: str, monkeypatch) -> Path:
    directory.mkdir(exist_ok=True)
    tool = directory / "nvidia-smi"
    tool.write_text(script)
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{directory}:/usr/bin:/bin")
    return tool


@pytest.fixture
def fake_gpus(tmp_path, monkeypatch) -> Path:
    return install_fake(tmp_path / "bin", FAKE_NVIDIA_SMI, monkeypatch)


def test_inventory_lists_each_gpu_with_memory_in_bytes(fake_gpus):
    assert gpu_inventory() == [
        {
            "name": "NVIDIA H100 80GB HBM3",
            "memory_total": 81559 * MIB,
            "driver": "550.54.15",
            "uuid": "GPU-6f1c2d3e-aaaa-bbbb-cccc-000000000000",
        },
        {  # [N/A] is left out, not guessed
            "name": "NVIDIA H100 80GB HBM3",
            "driver": "550.54.15",
            "uuid": "GPU-6f1c2d3e-aaaa-bbbb-cccc-111111111111",
        },
    ]


def test_run_context_carries_the_gpus(fake_gpus, tmp_path):
    environment = capture_run_context(CaptureOptions(git=False, packages=False), cwd=tmp_path)[
        "environment"
    ]

    assert [gpu["uuid"][-1] for gpu in environment["gpus"]] == ["0", "1"]


def test_usage_per_gpu_in_bytes_with_unknowns_as_none(fake_gpus):
    assert gpu_usage() == [(0, 87.0, 40000 * MIB), (1, None, 1024 * MIB)]


def test_without_nvidia_smi_there_are_no_gpus(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))

    assert gpu_inventory() == []
    assert gpu_usage() is None


def test_a_failing_nvidia_smi_leaves_gpus_out_of_the_run(tmp_path, monkeypatch):
    install_fake(
        tmp_path / "bin", "#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n", monkeypatch
    )

    with pytest.raises(ProbeError):
        gpu_inventory()
    environment = capture_run_context(CaptureOptions(git=False, packages=False), cwd=tmp_path)[
        "environment"
    ]
    assert "gpus" not in environment
    assert "python" in environment


def test_a_hung_nvidia_smi_is_killed_at_its_deadline(tmp_path, monkeypatch):
    install_fake(tmp_path / "bin", "#!/bin/sh\nexec sleep 60\n", monkeypatch)

    with pytest.raises(ProbeError, match="no answer"):
        gpu_inventory(timeout=0.3)
