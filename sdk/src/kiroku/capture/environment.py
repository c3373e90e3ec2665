"""The run's environment: Python, installed packages, OS, CPUs, memory, command line.

Standard library only (the command line is redacted with ``kiroku.redaction``). Each
function answers one field and may raise; the caller (``capture_run_context``) leaves a
field out when its probe fails.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import re
import socket
import sys
from pathlib import Path

from kiroku.capture._process import ProbeError, log, run_command
from kiroku.redaction import redact_command

MAX_PACKAGES = 10_000  # the server's limit
MAX_ARG_CHARS = 4_096
MAX_COMMAND_BYTES = 64 * 1024


def python_version() -> str:
    """``"3.11.7"``: the interpreter's version."""
    return platform.python_version()


def installed_packages() -> list[str]:
    """``"name==version"`` for every distribution importable from ``sys.path``, sorted
    by name (case-insensitively), like ``pip freeze`` without its editable-install
    lines. A distribution found twice on the path is listed once: the first, which is
    the one ``import`` would load. At most the server's 10,000."""
    seen: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        try:
            name = dist.metadata["Name"]
            version = dist.version
        except Exception as exc:  # a broken METADATA file must not stop the listing
            log.debug("packages: skipping %s: %s", dist, exc)
            continue
        if not name or not version:
            continue
        canonical = re.sub(r"[-_.]+", "-", name).lower()
        seen.setdefault(canonical, f"{name}=={version}")
    return [seen[key] for key in sorted(seen)][:MAX_PACKAGES]


def os_description() -> str:
    """``"Linux-6.1.0-18-amd64-x86_64-with-glibc2.36"``, as ``platform.platform()``."""
    return platform.platform()


def cpu_count() -> int:
    """Logical CPUs of the machine (not the process's affinity mask)."""
    count = os.cpu_count()
    if not count:
        raise ProbeError("cpu count unknown")
    return count


def memory_total() -> int:
    """Physical memory in bytes: ``/proc/meminfo`` on Linux, ``sysconf`` elsewhere on
    POSIX, ``sysctl hw.memsize`` on macOS."""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        pass
    if sys.platform == "darwin":
        out, _ = run_command(["sysctl", "-n", "hw.memsize"], timeout=2)
        return int(out.strip())
    raise ProbeError("total memory unknown on this platform")


def command_line(argv: list[str] | None = None) -> list[str]:
    """The command that started the process, interpreter and options included
    (``["python", "-m", "train", "--lr", "3e-4"]``), from ``sys.orig_argv``.

    Secrets are redacted (``kiroku.redaction.redact_command``): the value of a flag
    whose name says secret (``--token X``, ``--api-key=X``, ``--db-password X``)
    becomes ``[redacted:<kind>]``, and so do tokens, keys, ``KEY=value`` secrets and
    URL passwords anywhere. Very long arguments are cut and the whole stays under
    64 KiB of JSON.
    """
    if argv is None:
        argv = list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
    result: list[str] = []
    for arg in redact_command(argv):
        if len(arg) > MAX_ARG_CHARS:
            arg = arg[:MAX_ARG_CHARS] + "..."
        result.append(arg)
    size = len(json.dumps(result))
    if size > MAX_COMMAND_BYTES:
        kept: list[str] = []
        used = 2
        for arg in result:
            used += len(json.dumps(arg)) + 2
            if used > MAX_COMMAND_BYTES - 100:
                break
            kept.append(arg)
        kept.append(f"... ({len(result) - len(kept)} more arguments)")
        result = kept
    return result


def hostname() -> str:
    return socket.gethostname()
