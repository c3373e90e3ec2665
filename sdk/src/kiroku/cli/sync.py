"""``kiroku sync``: upload spooled runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from kiroku.cli.common import (
    AUTH,
    FAILURE,
    NOT_LOGGED_IN,
    OK,
    Subcommands,
    error_print,
    line_print,
)
from kiroku.errors import AuthError, ConfigError
from kiroku.settings import settings_resolve
from kiroku.sync import sync


def cmd_sync(args: argparse.Namespace) -> int:
    settings = settings_resolve(url=args.url, token=args.token, dir=args.dir)
    if not settings.token:
        raise AuthError(NOT_LOGGED_IN)
    target = Path(args.path) if args.path else settings.spool_dir
    if args.path and not target.exists():
        raise ConfigError(f"{target} does not exist")
    results = sync(settings, target, progress=not args.quiet)
    if not results:
        line_print(f"Nothing to sync in {target}.")
        return OK
    code = OK
    for result in results:
        name = result.path.name
        if result.skipped:
            line_print(f"skipped {name}: {result.skipped}")
        elif result.error:
            error_print(f"{name}: {result.error} ({result.records} record(s) sent before that)")
            code = AUTH if result.auth_error else max(code, FAILURE)
        else:
            end = (
                "" if result.finished else " (no finish recorded: the process did not end cleanly)"
            )
            line_print(
                f"synced {name}: run {result.run_id}, {result.records} record(s), "
                f"{result.points:,} point(s){end}"
            )
    return code


def add_commands(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    """Add ``sync`` to the ``kiroku`` parser."""
    sync_cmd = commands.add_parser("sync", parents=[common], help="upload spooled runs")
    sync_cmd.add_argument(
        "path", nargs="?", help="a spool file or folder (default: KIROKU_DIR/spool)"
    )
    sync_cmd.add_argument("--dir", help="KIROKU_DIR to read the spool from")
    sync_cmd.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    sync_cmd.set_defaults(handler=cmd_sync)
