"""What the SDK records about a run on its own: git state, environment, GPUs, dataset
hashes, DVC datasets and (optionally) system metrics.

Standard library only (secrets are redacted with ``kiroku.redaction``), and nothing
here raises into the caller: a probe that fails is left out and logged at debug level
(``logging.getLogger("kiroku.capture")``).

    context = capture_run_context(CaptureOptions(gpus=False))
    # {"git": {...} | None, "environment": {...}}: the run-create fields of those names
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiroku.capture import environment as env_probes
from kiroku.capture._process import clean_json, log
from kiroku.capture.datasets import DatasetHasher
from kiroku.capture.dvc import dvc_datasets
from kiroku.capture.git import git_info, remote_strip_credentials
from kiroku.capture.gpus import gpu_inventory
from kiroku.capture.system import SystemMetricsSampler
from kiroku.redaction import redact_environment

__all__ = [
    "CaptureOptions",
    "DatasetHasher",
    "SystemMetricsSampler",
    "capture_run_context",
    "dvc_datasets",
    "remote_strip_credentials",
]

# Each slow probe runs on its own thread; the slowest bounds init(). Every subprocess
# has its own deadline well inside this one, which is only a backstop.
PROBE_DEADLINE = 30.0


@dataclass
class CaptureOptions:
    """What ``kiroku.init`` records by itself; each part can be turned off.

    ``environment`` covers python, os, cpu_count, memory, command, cwd and hostname;
    ``packages`` and ``gpus`` are the two slower environment fields. ``datasets`` and
    ``dvc`` govern hashing the named datasets and reading DVC files, and
    ``system_metrics`` the background sampler: the SDK core acts on those three.
    ``max_diff_bytes`` caps the recorded git diff (the server keeps at most 1 MiB).
    """

    git: bool = True
    environment: bool = True
    packages: bool = True
    gpus: bool = True
    datasets: bool = True
    dvc: bool = True
    system_metrics: bool = False
    system_metrics_interval: float = 10.0
    max_diff_bytes: int = 1_048_576


def capture_run_context(options: CaptureOptions, cwd: Path | None = None) -> dict[str, Any]:
    """``{"git": {commit, branch, remote, dirty, diff, diff_truncated} | None,
    "environment": {python, packages, os, cpu_count, memory, gpus, command, cwd,
    hostname}}`` for a run started in ``cwd`` (default: the current directory).

    ``git`` is None when turned off or outside a work tree; ``environment`` holds only
    the fields that were asked for and could be read (it may be ``{}``). Secrets are
    redacted from the diff, the command line and every other string
    (``kiroku.redaction``). Every string is valid UTF-8 without NUL, as the server
    requires. Git, packages and GPUs are probed in parallel. Never raises.
    """
    try:
        return _capture(options, Path(cwd) if cwd is not None else Path.cwd())
    except Exception:  # capture must never stop a run from starting
        log.debug("capture failed", exc_info=True)
        return {"git": None, "environment": {}}


def _capture(options: CaptureOptions, cwd: Path) -> dict[str, Any]:
    slow: dict[str, Callable[[], Any]] = {}
    if options.git:
        slow["git"] = lambda: git_info(cwd, max_diff_bytes=options.max_diff_bytes)
    if options.packages:
        slow["packages"] = env_probes.installed_packages
    if options.gpus:
        slow["gpus"] = gpu_inventory
    results = _run_parallel(slow)

    environment: dict[str, Any] = {}
    if options.environment:
        quick: dict[str, Callable[[], Any]] = {
            "python": env_probes.python_version,
            "os": env_probes.os_description,
            "cpu_count": env_probes.cpu_count,
            "memory": env_probes.memory_total,
            "command": env_probes.command_line,
            "cwd": lambda: os.fspath(cwd.absolute()),
            "hostname": env_probes.hostname,
        }
        for name, probe in quick.items():
            try:
                environment[name] = probe()
            except Exception as exc:  # a failing probe is left out
                log.debug("capture: environment.%s not recorded: %s", name, exc)
    for name in ("packages", "gpus"):
        if name in results:
            environment[name] = results[name]
    return {
        "git": clean_json(results.get("git")),
        "environment": clean_json(redact_environment(dict(sorted(environment.items())))),
    }


def _run_parallel(probes: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Each probe's result by name; a probe that raised or is still running at the
    deadline is absent."""
    results: dict[str, Any] = {}
    lock = threading.Lock()

    def run(name: str, probe: Callable[[], Any]) -> None:
        try:
            value = probe()
        except Exception as exc:  # a failing probe is left out
            log.debug("capture: %s not recorded: %s", name, exc)
            return
        with lock:
            results[name] = value

    threads = [
        threading.Thread(target=run, args=item, name=f"kiroku-capture-{item[0]}", daemon=True)
        for item in probes.items()
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + PROBE_DEADLINE
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    with lock:
        return dict(results)
