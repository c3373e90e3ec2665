"""What every ``kiroku`` command shares: the exit codes, the settings a person waiting
at a terminal gets, printing, and opening the read API."""

from __future__ import annotations

import argparse
import sys
from typing import TypeAlias

from kiroku.api import Api
from kiroku.errors import AuthError, ConfigError, InvalidInput, KirokuError
from kiroku.settings import Settings

OK, FAILURE, USAGE, AUTH = 0, 1, 2, 3
INTERRUPTED = 130
# A person is waiting: retry transient failures for a couple of seconds, not ten.
CLI_SETTINGS = Settings(init_timeout=2.0, backoff_base=0.25, backoff_max=1.0)
NO_URL_MESSAGE = "no server URL: pass --url, set KIROKU_URL, or run `kiroku login`"
NOT_LOGGED_IN = "no token: run `kiroku login` or set KIROKU_TOKEN"

# The ``kiroku`` parser's subcommands, which each command module adds to.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def line_print(text: str = "") -> None:
    """Write ``text`` and a newline to stdout."""
    sys.stdout.write(text + "\n")


def error_print(text: str) -> None:
    """Write ``kiroku: error: <the first line of text>`` to stderr."""
    # One line: the server's filter errors add a caret display under the first line.
    first = text.strip().splitlines()[0] if text.strip() else "unknown error"
    sys.stderr.write(f"kiroku: error: {first}\n")


def shown(value: object) -> str:
    """Text from the server as printed: escaped (``repr``) when it holds anything but
    printable characters, so a hostile name cannot drive the terminal."""
    text = str(value)
    return text if text.isprintable() else repr(text)


def size_text(size: object) -> str:
    """A byte count for people: ``512 B``, ``1.5 KiB``, ``3.2 GiB`` (``?`` if not an int)."""
    if not isinstance(size, int):
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def exit_code_for(exc: KirokuError) -> int:
    """The exit code for a command that raised ``exc``: AUTH, USAGE or FAILURE."""
    if isinstance(exc, AuthError):
        return AUTH
    if isinstance(exc, ConfigError | InvalidInput):
        return USAGE
    return FAILURE


def api_open(args: argparse.Namespace) -> Api:
    """An Api for the command's ``--url``/``--token`` with CLI_SETTINGS. Raises
    AuthError when no token is configured anywhere."""
    api = Api(url=args.url, token=args.token, settings=CLI_SETTINGS)
    if not api.settings.token:
        raise AuthError(NOT_LOGGED_IN)
    return api
