"""Structured values redacted: a named value (a param, a tag, a summary string), a JSON
value, a command line and a run's environment. A value whose name says secret is
hidden whole; every other string loses the secrets inside it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from kiroku.redaction.markers import NAMED_KIND, redacted
from kiroku.redaction.names import name_is_secret, worth_hiding
from kiroku.redaction.text import redact_text

_MARKER_ONLY = re.compile(r"\[redacted:[a-z0-9-]+\]")


def _hidden(value: str) -> str:
    """The marker for a secret value: its format's kind when it has a known format
    (``[redacted:kiroku-token]``), else ``[redacted:secret]``."""
    text = redact_text(value.strip())
    return text if _MARKER_ONLY.fullmatch(text) else redacted(NAMED_KIND)


def redact_value(name: str | None, value: str) -> str:
    """A named text value (a param, a tag, a summary string, a config entry) as it may
    leave the machine: the whole value hidden when the name says secret
    (``{"db_password": "x"}`` → ``[redacted:secret]``), else the secrets inside it."""
    if not isinstance(value, str):
        return value
    if isinstance(name, str) and name_is_secret(name) and worth_hiding(value):
        return _hidden(value)
    return redact_text(value)


def redact_json(value: Any, name: str | None = None) -> Any:
    """A JSON value with every string redacted; a string under a key that says secret
    is hidden whole. Numbers, booleans and null are kept."""
    if isinstance(value, str):
        return redact_value(name, value) if name is not None else redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_json(v, k if isinstance(k, str) else None) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_json(item, name) for item in value]
    return value


def redact_command(command: Sequence[str] | str) -> list[str] | str:
    """A command line without secrets: the value of a flag whose name says secret
    (``--token X``, ``--api-key=X``, ``--db-password X``) is hidden, and every argument
    is redacted as text (tokens, ``KEY=value``, URL passwords). A string command is
    redacted as text."""
    if isinstance(command, str):
        return redact_text(command)
    result: list[Any] = []
    hide_next = False
    for arg in command:
        if not isinstance(arg, str):
            result.append(arg)
            hide_next = False
            continue
        if hide_next:
            hide_next = False
            if not arg.startswith("--") and worth_hiding(arg):
                result.append(_hidden(arg))
                continue
        flag, eq, value = arg.partition("=")
        if flag.startswith("-") and name_is_secret(flag):
            if not eq:
                hide_next = True
                result.append(arg)
            else:
                result.append(f"{flag}={_hidden(value)}" if worth_hiding(value) else arg)
            continue
        result.append(redact_text(arg))
    return result


def redact_environment(environment: Mapping[str, Any]) -> dict[str, Any]:
    """A run's environment (python, packages, os, command, cwd, hostname...) with its
    command redacted as a command line and every other string as text (a package
    installed from ``git+https://user:token@…`` loses the token)."""
    result: dict[str, Any] = {}
    for key, value in environment.items():
        if key == "command" and isinstance(value, list | str):
            result[key] = redact_command(value)
        else:
            result[key] = redact_json(value, key)
    return result
