"""``kiroku runs list`` and ``kiroku runs show``.

``runs list`` reads the project from ``-p``, else ``KIROKU_PROJECT``, else the one
``kiroku login --project`` saved, and prints a table: a header row, the run's id,
name, status, creation time and author, then the project's primary metrics (its
``primary_metrics`` setting), or the columns ``--columns`` names. ``--json`` prints
one JSON object per run instead. Text from the server is printed escaped when it
holds anything but printable characters, so a hostile run name cannot drive the
terminal.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from typing import Any

from kiroku.api import ApiRun
from kiroku.cli.common import OK, Subcommands, api_open, line_print
from kiroku.console import duration_text
from kiroku.errors import ConfigError

DEFAULT_COLUMNS = ("name", "status", "created", "author")
MAX_WIDTH = 40
_KEY_PREFIXES = {
    "params": "params",
    "param": "params",
    "metrics": "metrics",
    "metric": "metrics",
    "tags": "tags",
    "tag": "tags",
}


def _time(value: Any) -> str:
    return str(value or "")[:19].replace("T", " ")


# Attribute columns: name → (header, value from the run's JSON)
ATTRIBUTES: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {
    "name": ("NAME", lambda d: d.get("name")),
    "status": ("STATUS", lambda d: d.get("status")),
    "created": ("CREATED", lambda d: _time(d.get("created_at"))),
    "started": ("STARTED", lambda d: _time(d.get("started_at"))),
    "ended": ("ENDED", lambda d: _time(d.get("ended_at"))),
    "duration": (
        "DURATION",
        lambda d: duration_text(d["duration"]) if d.get("duration") is not None else None,
    ),
    "author": ("AUTHOR", lambda d: d.get("author")),
    "group": ("GROUP", lambda d: d.get("group")),
}


def columns_parse(raw: str) -> list[str]:
    """``name,status,metrics.acc,params.lr`` → the column names, with the key prefixes
    spelled out (``metric.acc`` → ``metrics.acc``). Raises ConfigError naming a column
    that is neither an attribute nor ``params.``/``metrics.``/``tags.<key>``."""
    columns = []
    for item in (part.strip() for part in raw.split(",")):
        if not item or item == "id":
            continue
        prefix, dot, key = item.partition(".")
        kind = _KEY_PREFIXES.get(prefix.lower())
        if dot and key and kind:
            columns.append(f"{kind}.{key}")
        elif item.lower() in ATTRIBUTES:
            columns.append(item.lower())
        else:
            raise ConfigError(
                f"unknown column {item!r}: use params.<key>, metrics.<key>, tags.<key> or "
                f"one of {', '.join(ATTRIBUTES)}"
            )
    return columns


def _number(value: float | None) -> str | None:
    if value is None:
        return None
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return f"{value:.6g}"


def _cell(run: ApiRun, column: str) -> str:
    if column in ATTRIBUTES:
        value = ATTRIBUTES[column][1](run.data)
    else:
        kind, _, key = column.partition(".")
        if kind == "metrics":
            value = _number(run.metrics.get(key))
        else:
            value = (run.params if kind == "params" else run.tags).get(key)
    if value is None or value == "":
        return "-"
    text = str(value)
    text = text if text.isprintable() else repr(text)
    return text if len(text) <= MAX_WIDTH else text[: MAX_WIDTH - 3] + "..."


def table_lines(runs: list[ApiRun], columns: list[str]) -> list[str]:
    """The header row and one row per run, in aligned columns (metrics right-aligned)."""
    headers = ["ID"] + [ATTRIBUTES[c][0] if c in ATTRIBUTES else c for c in columns]
    rows = [[run.id] + [_cell(run, c) for c in columns] for run in runs]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    right = [False] + [c.startswith("metrics.") for c in columns]
    lines = []
    for row in [headers, *rows]:
        cells = [
            cell.rjust(width) if flush else cell.ljust(width)
            for cell, width, flush in zip(row, widths, right, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def cmd_runs_list(args: argparse.Namespace) -> int:
    columns = columns_parse(args.columns) if args.columns is not None else None
    with api_open(args) as api:
        project = args.project or api.settings.project
        if not project:
            raise ConfigError(
                "which project? pass -p/--project, set KIROKU_PROJECT, or save one with "
                "`kiroku login --project SLUG`"
            )
        info = api.project(project)
        if columns is None and not args.json:
            columns = [*DEFAULT_COLUMNS]
            columns += [f"metrics.{key}" for key in info.get("primary_metrics") or []]
        keys = [c for c in columns or [] if c not in ATTRIBUTES]
        page_size = min(args.limit, 100) if args.limit else 100
        found = api.runs(
            project,
            filter=args.filter or "",
            order_by=args.order_by or "",
            columns=keys or None,
            page_size=page_size,
        )
        runs: list[ApiRun] = []
        for run in found:
            if args.json:
                line_print(json.dumps(run.data))
            runs.append(run)
            if args.limit and len(runs) >= args.limit:
                break  # before the next page is fetched
        if args.json:
            return OK
        if not runs:
            line_print(f"No runs in {project}" + (" match the filter." if args.filter else "."))
            return OK
        for line in table_lines(runs, columns or []):
            line_print(line)
    return OK


def cmd_runs_show(args: argparse.Namespace) -> int:
    with api_open(args) as api:
        run = api.run(args.id)
        if args.json:
            line_print(json.dumps(run.data, indent=2))
            return OK
        data = run.data
        line_print(f"{data['project']}/{data['name']}  {data['status']}  {data['url']}")
        for label, value in (
            ("id", data["id"]),
            ("author", data.get("author")),
            ("group", data.get("group")),
            ("started", data.get("started_at")),
            ("ended", data.get("ended_at")),
            ("duration", data.get("duration")),
        ):
            if value not in (None, ""):
                line_print(f"  {label:<9} {value}")
        git = data.get("git") or {}
        if git.get("commit"):
            dirty = " (dirty)" if git.get("dirty") else ""
            line_print(
                f"  git       {git.get('branch')} {git['commit'][:12]}{dirty} {git.get('remote')}"
            )
        for title, mapping in (
            ("params", run.params),
            ("metrics (last)", run.metrics),
            ("summary", run.summary),
            ("tags", run.tags),
        ):
            if mapping:
                line_print(f"{title}:")
                for key in sorted(mapping):
                    line_print(f"  {key} = {mapping[key]}")
        if run.datasets:
            line_print("datasets:")
            for d in run.datasets:
                line_print(f"  {d['name']}  {d.get('digest') or '(no hash)'}  {d.get('uri')}")
    return OK


def add_commands(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    """Add ``runs list`` and ``runs show`` to the ``kiroku`` parser."""
    runs = commands.add_parser("runs", help="list or show runs")
    sub = runs.add_subparsers(dest="runs_command", required=True, metavar="COMMAND")
    listing = sub.add_parser(
        "list",
        parents=[common],
        help="search a project's runs",
        description="A table of the project's runs: id, name, status, created, author and "
        "the project's primary metrics (or --columns).",
    )
    listing.add_argument(
        "-p",
        "--project",
        help="the project's slug (default: KIROKU_PROJECT, then `kiroku login --project`)",
    )
    listing.add_argument("--filter", help='e.g. "metrics.acc > 0.9 and params.lr < 0.01"')
    listing.add_argument("--order-by", help='e.g. "metrics.acc DESC"')
    listing.add_argument(
        "--columns",
        help="what to show after the id, comma-separated: params.<key>, metrics.<key>, "
        f"tags.<key>, {', '.join(ATTRIBUTES)} (default: "
        f"{','.join(DEFAULT_COLUMNS)} and the project's primary metrics)",
    )
    listing.add_argument("--limit", type=int, default=0, help="at most this many runs")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(handler=cmd_runs_list)
    show = sub.add_parser("show", parents=[common], help="one run in detail")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_runs_show)
