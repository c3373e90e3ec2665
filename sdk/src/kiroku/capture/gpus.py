"""NVIDIA GPUs, from ``nvidia-smi`` when it is on the PATH.

``nvidia-smi``'s CSV query interface is stable across driver versions and needs no
library in the training process. Values it cannot report (``[N/A]``, ``[Not
Supported]``) are left out rather than guessed.
"""

from __future__ import annotations

import csv
import io
import shutil
from typing import Any

from kiroku.capture._process import run_command

MIB = 1024 * 1024
INVENTORY_QUERY = "index,name,memory.total,driver_version,uuid"
USAGE_QUERY = "index,utilization.gpu,memory.used"


def _query(fields: str, *, timeout: float) -> list[list[str]] | None:
    """Rows of ``nvidia-smi --query-gpu=FIELDS``, or None when it is not installed.
    Raises ``ProbeError`` when it fails or does not answer within ``timeout``."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    out, _ = run_command(
        [exe, f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
        timeout=timeout,
        limit=1024 * 1024,
    )
    rows = csv.reader(io.StringIO(out.decode("utf-8", errors="replace")), skipinitialspace=True)
    width = fields.count(",") + 1
    return [[cell.strip() for cell in row] for row in rows if len(row) == width]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:  # "[N/A]", "[Not Supported]"
        return None


def gpu_inventory(*, timeout: float = 5.0) -> list[dict[str, Any]]:
    """One ``{name, memory_total, driver, uuid}`` per GPU (``memory_total`` in bytes),
    in ``nvidia-smi``'s index order; ``[]`` when ``nvidia-smi`` is absent. Raises
    ``ProbeError`` when it is present but fails or hangs."""
    rows = _query(INVENTORY_QUERY, timeout=timeout)
    if rows is None:
        return []
    gpus = []
    for _index, name, memory, driver, uuid in rows:
        gpu: dict[str, Any] = {"name": name, "driver": driver, "uuid": uuid}
        mib = _number(memory)
        if mib is not None:
            gpu["memory_total"] = int(mib * MIB)
        gpus.append({k: v for k, v in gpu.items() if v not in ("", "[N/A]")})
    return gpus


def gpu_usage(*, timeout: float = 5.0) -> list[tuple[int, float | None, int | None]] | None:
    """``(index, utilization percent, memory used in bytes)`` per GPU, or None when
    ``nvidia-smi`` is absent. Raises ``ProbeError`` when it fails or hangs."""
    rows = _query(USAGE_QUERY, timeout=timeout)
    if rows is None:
        return None
    usage = []
    for index, utilization, memory in rows:
        position = _number(index)
        if position is None:
            continue
        used = _number(memory)
        used_bytes = None if used is None else int(used * MIB)
        usage.append((int(position), _number(utilization), used_bytes))
    return usage
