"""Child processes with a deadline and a bounded output, and text the server accepts."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import cast

log = logging.getLogger("kiroku.capture")


class ProbeError(Exception):
    """A command could not be run, timed out or exited with a non-zero status."""


def run_command(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    timeout: float = 5.0,
    limit: int | None = None,
    env: dict[str, str] | None = None,
) -> tuple[bytes, bool]:
    """Run ``argv`` and return (stdout, truncated).

    At most ``limit`` bytes of stdout are kept (the rest is read and thrown away, so the
    child never blocks on a full pipe, and memory stays bounded whatever it prints);
    ``truncated`` says whether more came. Raises ``ProbeError`` when the command is
    missing, exceeds ``timeout`` seconds (it is killed) or exits with a non-zero status.
    """
    try:
        child = subprocess.Popen(  # noqa: S603 - argv is built by this package, never a shell
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError as exc:
        raise ProbeError(f"{argv[0]}: {exc}") from exc
    kept = bytearray()
    truncated = False
    try:
        if limit is None:
            out, _ = child.communicate(timeout=timeout)
            kept += out
        else:
            kept, truncated = _read_bounded(child, limit=limit, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        child.kill()
        child.wait()
        raise ProbeError(f"{argv[0]}: no answer within {timeout} s") from exc
    finally:
        if child.stdout is not None:
            child.stdout.close()
    if child.returncode != 0 and not truncated:
        raise ProbeError(f"{' '.join(argv[:3])}: exit status {child.returncode}")
    return bytes(kept), truncated


def _read_bounded(
    child: subprocess.Popen[bytes], *, limit: int, timeout: float
) -> tuple[bytearray, bool]:
    """Read the child's stdout on a helper thread (so the deadline holds even when it
    prints nothing) until EOF or until more than ``limit`` bytes came; in that case the
    child is killed (its exit status no longer matters) and the flag is true."""
    kept = bytearray()
    state = {"truncated": False}
    assert child.stdout is not None
    # Popen's default buffering makes stdout a BufferedReader (typeshed says IO[bytes]).
    stream = cast(io.BufferedReader, child.stdout)

    def drain() -> None:
        while True:
            chunk = stream.read1(65536)
            if not chunk:
                return
            room = limit - len(kept)
            kept.extend(chunk[:room])
            if len(chunk) > room:
                state["truncated"] = True
                return

    reader = threading.Thread(target=drain, name="kiroku-capture-read", daemon=True)
    reader.start()
    reader.join(timeout)
    if reader.is_alive():
        raise subprocess.TimeoutExpired(child.args, timeout)
    if state["truncated"]:
        child.kill()
    child.wait(timeout=max(0.1, timeout))
    return kept, state["truncated"]


def git_environment() -> dict[str, str]:
    """The environment for git: never prompt, never take the index lock (a training
    script must not make the user's own ``git commit`` fail), plain English output."""
    env = dict(os.environ)
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_OPTIONAL_LOCKS": "0",
            "GIT_PAGER": "cat",
            "LC_ALL": "C",
        }
    )
    return env


def clean_text(value: str) -> str:
    """Text the server stores: no NUL (PostgreSQL refuses it; the API answers 400) and
    no lone surrogates (from undecodable file names; they cannot be encoded as UTF-8)."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def clean_json(value: object) -> object:
    """``clean_text`` applied to every string (keys included) in a JSON-like value."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


def utf8_prefix(data: bytes, limit: int) -> tuple[str, bool]:
    """``data`` decoded (invalid bytes replaced) and cut to at most ``limit`` bytes of
    UTF-8 on a character boundary; the flag says whether anything was cut."""
    text = data.decode("utf-8", errors="replace")
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text, False
    return encoded[:limit].decode("utf-8", errors="ignore"), True
