"""``kiroku status``: the settings in effect and what the spool still holds."""

from __future__ import annotations

import argparse

from kiroku.cli.common import OK, Subcommands, line_print
from kiroku.settings import credentials_path, settings_resolve
from kiroku.spool import SpoolBusy, lock_acquire, lock_release, spool_list, spool_read


def cmd_status(args: argparse.Namespace) -> int:
    settings = settings_resolve(url=args.url, token=args.token, dir=args.dir)
    token = settings.token
    line_print(f"server:  {settings.url or '(none: run `kiroku login`)'}")
    line_print(
        f"token:   {token[:12] + '…' if token else '(none)'}  (credentials: {credentials_path()})"
    )
    line_print(
        f"project: {settings.project or '(none: -p, KIROKU_PROJECT or `kiroku login --project`)'}"
    )
    line_print(f"spool:   {settings.spool_dir}")
    paths = spool_list(settings.spool_dir)
    unsent = 0
    for path in paths:
        state = spool_read(path)
        try:
            lock_release(lock_acquire(path), path)
            live = ""
        except SpoolBusy:
            live = "  [in use by a running process]"
        pending = state.pending
        if not pending:
            continue
        unsent += 1
        finish = "finish recorded" if state.has_finish else "no finish"
        run = state.run_id or "(not created)"
        line_print(
            f"  {path.name}: {state.project}/{state.name or '?'} run {run}"
            f" — {len(pending)} record(s), {state.pending_points:,} point(s) unsent, {finish}{live}"
        )
    if not unsent:
        line_print("Nothing spooled: everything was sent.")
    else:
        line_print(f"{unsent} spool file(s) to upload: run `kiroku sync`.")
    return OK


def add_commands(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    """Add ``status`` to the ``kiroku`` parser."""
    status = commands.add_parser("status", parents=[common], help="settings and unsent data")
    status.add_argument("--dir", help="KIROKU_DIR to inspect")
    status.set_defaults(handler=cmd_status)
