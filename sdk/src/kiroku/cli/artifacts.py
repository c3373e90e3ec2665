"""``kiroku artifacts list`` and ``kiroku artifacts download``.

Names come from the server and are printed escaped (``repr``) when they hold
anything but printable characters, so a hostile name cannot drive the terminal.
Exit codes as for every command; a download with any refused name or failed file
exits 1.
"""

from __future__ import annotations

import argparse
import json

from kiroku.cli.common import FAILURE, OK, Subcommands, api_open, error_print, line_print
from kiroku.cli.common import shown as _shown
from kiroku.cli.common import size_text as _size

_LIST_LIMIT = 50  # refused or failed names shown before a count


def cmd_artifacts_list(args: argparse.Namespace) -> int:
    with api_open(args) as api:
        entries = api.run(args.run).artifacts(args.path, recursive=not args.top)
    for entry in entries:
        if args.json:
            line_print(json.dumps(entry))
        elif entry.get("type") == "dir":
            line_print(f"{'':>10}  {'':12}  {'':>3}  {_shown(entry.get('path'))}/")
        else:
            size, sha = _size(entry.get("size")), str(entry.get("sha256") or "")[:12]
            version = f"v{entry.get('version')}"
            line_print(f"{size:>10}  {sha:12}  {version:>3}  {_shown(entry.get('path'))}")
    if not entries and not args.json:
        line_print("No artifacts.")
    return OK


def cmd_artifacts_download(args: argparse.Namespace) -> int:
    with api_open(args) as api:
        result = api.run(args.run).download_artifacts(
            args.path, args.output, progress=not args.quiet
        )
    for kind, items in (("refused the name", result.refused), ("not downloaded", result.failed)):
        for name, why in items[:_LIST_LIMIT]:
            error_print(f"{kind} {_shown(name)}: {why}")
        if len(items) > _LIST_LIMIT:
            error_print(f"{kind}: {len(items) - _LIST_LIMIT} more")
    line_print(
        f"Downloaded {len(result.written)} file(s), {_size(result.bytes)}, to {args.output}."
    )
    return OK if result.ok else FAILURE


def add_commands(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    """Add ``artifacts list`` and ``artifacts download`` to the ``kiroku`` parser."""
    artifacts = commands.add_parser("artifacts", help="list or download a run's artifacts")
    sub = artifacts.add_subparsers(dest="artifacts_command", required=True, metavar="COMMAND")
    listing = sub.add_parser("list", parents=[common], help="the files of a run (size, sha256)")
    listing.add_argument("run", help="the run's id")
    listing.add_argument("path", nargs="?", help="a folder of artifacts (default: all)")
    listing.add_argument(
        "--top", action="store_true", help="only what is directly in PATH, folders too"
    )
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(handler=cmd_artifacts_list)
    download = sub.add_parser(
        "download",
        parents=[common],
        help="download files, checked against their sha256",
        description="Download the run's files under PATH into DIR, each at its path below "
        "PATH. Exits 1 when any name is refused as unsafe or any file fails.",
    )
    download.add_argument("run", help="the run's id")
    download.add_argument("path", nargs="?", help="a folder or file of artifacts (default: all)")
    download.add_argument("-o", "--output", default=".", metavar="DIR", help="default: here")
    download.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    download.set_defaults(handler=cmd_artifacts_download)
