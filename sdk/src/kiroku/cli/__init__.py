"""The ``kiroku`` command.

Exit codes: 0 success; 1 failure (server unreachable, not found, a sync that could
not finish, an artifact download with a refused name or a failed file, a model
download that does not match its manifest); 2 usage or input error (bad arguments, a
filter the server refuses, no URL or token configured); 3 authentication (the token is
missing, wrong, expired or lacks the role, a protected alias); 130 interrupted. Errors
are one line on stderr.

Each command group is a module with ``add_commands(commands, common)`` and its
``cmd_*`` handlers; what they share is in ``kiroku.cli.common``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from kiroku.cli import artifacts, ci, login, models, runs, status, sync
from kiroku.cli.common import (
    FAILURE,
    INTERRUPTED,
    NO_URL_MESSAGE,
    error_print,
    exit_code_for,
)
from kiroku.errors import KirokuError
from kiroku.settings import NO_URL
from kiroku.version import __version__

# In the order ``kiroku --help`` lists them.
COMMAND_GROUPS = (login, sync, status, runs, artifacts, models, ci)


def build_parser() -> argparse.ArgumentParser:
    """The ``kiroku`` parser: each subcommand sets ``handler``, a function of the parsed
    arguments that returns the exit code."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="server URL (default: KIROKU_URL, then `kiroku login`)")
    common.add_argument("--token", help="API token (default: KIROKU_TOKEN, then `kiroku login`)")
    parser = argparse.ArgumentParser(
        prog="kiroku",
        description="Kiroku's client: log in, upload spooled runs, list and show runs, "
        "list and download their artifacts, the model registry, report CI results.",
        epilog="Exit codes: 0 ok, 1 failure, 2 usage or input error, 3 authentication.",
    )
    parser.add_argument("--version", action="version", version=f"kiroku {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.add_commands(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except KirokuError as exc:
        # The settings' own wording speaks to Python code (url=...); here it is a flag.
        error_print(NO_URL_MESSAGE if exc.code == NO_URL else exc.message)
        return exit_code_for(exc)
    except KeyboardInterrupt:
        error_print("interrupted")
        return INTERRUPTED
    except (OSError, ValueError) as exc:
        error_print(str(exc))
        return FAILURE
