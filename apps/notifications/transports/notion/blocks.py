"""A Report as a Notion page: property values for the data source's schema, and body blocks.

Notion does not interpret markup in rich text, so user text (run names, params, comments)
goes in as plain text; only URLs Kiroku built (``http(s)``) become links. Everything stays
within Notion's request limits: 2,000 UTF-16 code units per text object, 100 items per
array (rich text, children, table rows), and — through ``batch_end`` — 100 top-level
blocks, 1,000 blocks in all and well under 500 KB per request.
"""

from __future__ import annotations

import ipaddress
import json
import math
from typing import Any
from urllib.parse import urlsplit

from apps.notifications import catalog
from apps.notifications.report_content import (
    MetricLine,
    ModelRef,
    ParamChange,
    Report,
    format_delta,
    format_duration,
    format_number,
    format_verdict,
)

Block = dict[str, Any]
RichText = list[dict[str, Any]]

TEXT_LIMIT = 2000  # UTF-16 code units per text object (Notion counts as JavaScript does)
ARRAY_LIMIT = 100  # items in any array of a request
URL_LIMIT = 2000
SELECT_LIMIT = 100  # characters in a select option's name
MAX_CHILDREN = 100  # top-level blocks per request
MAX_BLOCKS = 1000  # blocks per request, nested ones included
MAX_BYTES = 400_000  # Notion's limit is 500 KB per request; leave room for properties

NAME_CHARS = 10_000  # run names beyond this are cut ("…")
CELL_CHARS = 500  # table cells
DETAIL_CHARS = 20_000  # comment excerpts, CI summaries
PARAGRAPH_TEXTS = 20  # text objects per detail paragraph
CHANGES_LISTED = 50  # the "changed from baseline" list; the params table has them all

DETAIL_HEADINGS = {catalog.COMMENT_MENTION: "Comment", catalog.CI_REPORTED: "CI report"}
DETAIL_LINKS = {catalog.COMMENT_MENTION: "Open comment", catalog.CI_REPORTED: "Open CI report"}


def notion_page(report: Report, schema: dict[str, dict[str, Any]]) -> tuple[dict, list[Block]]:
    """Return ``(properties, children)`` for ``pages.create`` in a data source whose
    ``properties`` schema is ``schema`` (name -> {"id", "type", ...}).

    Properties are filled only where the schema has a property of a fitting type: the
    title property (whatever its name) gets the run name (a model event's title for a
    model registry page); "Status", "Project", "URL", "Created"/"Date", "Kiroku ID",
    and for model pages "Model", "Version", "Alias" and "Run" (matched
    case-insensitively) and one number property per metric whose name is the metric
    key get their values. ``children`` may hold more
    than one request's worth of blocks: send them in slices cut by ``batch_end``.
    """
    return page_properties(report, schema), page_children(report)


# --- properties -------------------------------------------------------------------------


def page_properties(report: Report, schema: dict[str, dict[str, Any]]) -> dict[str, Any]:
    by_lower: dict[str, str] = {}
    for property_name in schema:
        by_lower.setdefault(property_name.lower(), property_name)
    properties: dict[str, Any] = {}

    def put(name: str | None, kinds: tuple[str, ...], value: Any) -> None:
        if name is None or name in properties or value is None:
            return
        kind = schema[name].get("type")
        if kind in kinds:
            filled = _property_value(kind, value, schema[name])
            if filled is not None:
                properties[name] = filled

    title = next((n for n, p in schema.items() if p.get("type") == "title"), None)
    model = report.model
    if model is not None:
        # A model page is about the version, not the run: its own title and columns.
        put(title, ("title",), report.title)
        put(by_lower.get("model"), ("rich_text", "select"), model.name)
        put(by_lower.get("version"), ("number",), model.version)
        put(by_lower.get("version"), ("rich_text", "select"), f"v{model.version}")
        put(by_lower.get("alias"), ("rich_text", "select"), model.alias or None)
        run_url = _safe_url(report.run.url) if report.run else None
        put(by_lower.get("run"), ("url",), run_url)
        put(by_lower.get("run"), ("rich_text",), report.run.name if report.run else None)
    put(title, ("title",), report.run.name if report.run else report.title)
    put(by_lower.get("kiroku id"), ("rich_text",), report.key)
    put(by_lower.get("status"), ("select", "status"), report.status or None)
    put(by_lower.get("project"), ("rich_text", "select"), report.project_name or None)
    put(by_lower.get("url"), ("url",), _safe_url(report.run.url) if report.run else None)
    when = report.started_at or report.created_at
    put(by_lower.get("created"), ("date",), when)
    put(by_lower.get("date"), ("date",), when)
    for line in report.metrics:
        name = line.key if line.key in schema else by_lower.get(line.key.lower())
        if line.value is not None and math.isfinite(line.value):
            put(name, ("number",), line.value)
    return properties


def _property_value(kind: str, value: Any, spec: dict[str, Any]) -> dict[str, Any] | None:
    if kind == "title":
        return {"title": _cap(_text(_clip(str(value), NAME_CHARS)))}
    if kind == "rich_text":
        return {"rich_text": _cap(_text(_clip(str(value), NAME_CHARS)))}
    if kind == "select":
        # Option names cannot hold commas; a new name creates the option.
        return {"select": {"name": _clip(str(value).replace(",", " "), SELECT_LIMIT)}}
    if kind == "status":
        # Status options cannot be created through the API: use an existing one or none.
        options = spec.get("status", {}).get("options", [])
        match = next((o["name"] for o in options if o["name"].lower() == value.lower()), None)
        return {"status": {"name": match}} if match else None
    if kind == "url":
        return {"url": value}
    if kind == "date":
        return {"date": {"start": value.isoformat()}}
    if kind == "number":
        return {"number": value}
    return None


# --- body -------------------------------------------------------------------------------


def page_children(report: Report) -> list[Block]:
    children: list[Block] = [_heading(2, report.title), _summary(report)]
    if report.model is not None:
        for heading, text in (
            ("Reason", report.model.reason),
            ("Comment", report.model.comment),
            ("Description", report.model.description),
        ):
            if text:
                children.append(_heading(3, heading))
                children.extend(_paragraphs(_clip(text, DETAIL_CHARS)))
    if report.metrics:
        children.append(_heading(3, "Metrics"))
        children.extend(_metrics_tables(report))
    if report.params:
        children.append(_heading(3, "Params"))
        children.extend(_params_tables(report))
    if report.param_changes and report.baseline is not None:
        children.append(_heading(3, "Changed from baseline"))
        listed = report.param_changes[:CHANGES_LISTED]
        present = {key for key, _ in report.params}
        children.extend(
            _block("bulleted_list_item", _text(_change_text(c, c.key in present))) for c in listed
        )
        rest = len(report.param_changes) - len(listed)
        if rest > 0:
            more = f"…and {rest} more (see the params table)."
            children.append(_block("paragraph", _text(more)))
    if report.detail:
        children.append(_heading(3, DETAIL_HEADINGS.get(report.event, "Details")))
        children.extend(_paragraphs(_clip(report.detail, DETAIL_CHARS)))
    return children


def _summary(report: Report) -> Block:
    lines: list[RichText] = []
    if report.model is not None:
        lines.append(_text(_model_facts(report.model)))
    if report.run is not None:
        name = _clip(report.run.name, NAME_CHARS)
        lines.append(_text("Run: ") + _text(name, url=report.run.url))
    project = _clip(report.project_name or report.project_slug, NAME_CHARS)
    lines.append(_text("Project: ") + _text(project, url=report.project_url))
    facts = _join(
        ("Status", report.status),
        ("Duration", format_duration(report.duration_seconds)),
        ("Author", report.author),
        ("Branch", report.branch),
        ("Commit", report.commit),
    )
    if facts:
        lines.append(_text(facts))
    if report.tags:
        tags = ", ".join(f"{key}={value}" for key, value in report.tags)
        lines.append(_text(_clip(f"Tags: {tags}", TEXT_LIMIT)))
    if report.mentions:
        mentioned = ", ".join(f"@{m.username}" for m in report.mentions)
        lines.append(_text(_clip(f"Mentions: {mentioned}", TEXT_LIMIT)))
    if report.baseline is not None:
        name = _clip(report.baseline.name, NAME_CHARS)
        line = _text("Baseline: ") + _text(name, url=report.baseline.url)
        if report.baseline_label:
            line += _text(f" ({_clip(report.baseline_label, 200)})")
        lines.append(line)
    links = [
        (label, url)
        for label, url in (
            ("Open run", report.run.url if report.run else ""),
            ("Compare with baseline", report.compare_url),
            (DETAIL_LINKS.get(report.event, "Details"), report.detail_url),
        )
        if _safe_url(url)
    ]
    if links:
        line = []
        for i, (label, url) in enumerate(links):
            line += _text(" · " if i else "") + _text(label, url=url)
        lines.append(line)
    rich: RichText = []
    for i, line in enumerate(lines):
        rich += _text("\n" if i else "") + line
    return _block("paragraph", _cap(_merged(rich)))


def _model_facts(model: ModelRef) -> str:
    alias = ""
    if model.alias:
        was = f"v{model.replaces}" if model.replaces is not None else "nothing"
        alias = f"@{_clip(model.alias, 200)} (was {was})"
    return _join(
        ("Model", _clip(model.name, NAME_CHARS)),
        ("Version", f"v{model.version}"),
        ("Alias", alias),
        ("By", model.actor),
        ("Decision", model.decision),
    )


def _join(*pairs: tuple[str, str]) -> str:
    return " · ".join(f"{label}: {value}" for label, value in pairs if value)


def _metrics_tables(report: Report) -> list[Block]:
    compared = any(line.baseline is not None for line in report.metrics)
    header = ["Metric", "Value", "Baseline", "Change"] if compared else ["Metric", "Value"]
    rows = [_metric_row(line, compared) for line in report.metrics]
    return _tables(header, rows)


def _metric_row(line: MetricLine, compared: bool) -> list[RichText]:
    cells = [_cell(line.key), _cell(format_number(line.value))]
    if compared:
        change = f"{format_delta(line)} {format_verdict(line)}".strip()
        cells += [_cell(format_number(line.baseline)), _cell(change)]
    return cells


def _params_tables(report: Report) -> list[Block]:
    changes = {change.key: change for change in report.param_changes}
    compared = report.baseline is not None
    header = ["Param", "Value", "vs baseline"] if compared else ["Param", "Value"]
    rows = []
    for key, value in report.params:
        change = changes.get(key) if compared else None
        cells = [_cell(key, bold=change is not None), _cell(value, bold=change is not None)]
        if compared:
            if change is None:
                versus = "same"
            elif change.baseline is None:
                versus = "new (not in baseline)"
            else:
                versus = f"was {change.baseline}"
            cells.append(_cell(versus))
        rows.append(cells)
    return _tables(header, rows)


def _change_text(change: ParamChange, present: bool) -> str:
    """ "lr: 0.001 → 0.0003"; "(new)" when the baseline lacked the param, "(removed)"
    when the run lacks it (the report gives its value as "")."""
    key, value = _clip(change.key, CELL_CHARS), _clip(change.value, CELL_CHARS)
    if change.baseline is None:
        return f"{key}: {value} (new)"
    return f"{key}: {_clip(change.baseline, CELL_CHARS)} → {value if present else '(removed)'}"


def _tables(header: list[str], rows: list[list[RichText]]) -> list[Block]:
    """One table per 99 rows (each with the header row), as a table holds 100 rows."""
    per_table = ARRAY_LIMIT - 1
    tables = []
    for start in range(0, len(rows), per_table):
        chunk = [[_cell(h) for h in header], *rows[start : start + per_table]]
        tables.append(
            {
                "object": "block",
                "type": "table",
                "table": {
                    "table_width": len(header),
                    "has_column_header": True,
                    "has_row_header": False,
                    "children": [
                        {"object": "block", "type": "table_row", "table_row": {"cells": cells}}
                        for cells in chunk
                    ],
                },
            }
        )
    return tables


def _cell(value: str, *, bold: bool = False) -> RichText:
    return _cap(_text(_clip(value, CELL_CHARS), bold=bold))


def _paragraphs(text: str) -> list[Block]:
    rich = _text(text)
    return [
        _block("paragraph", rich[i : i + PARAGRAPH_TEXTS])
        for i in range(0, len(rich), PARAGRAPH_TEXTS)
    ]


def _heading(level: int, text: str) -> Block:
    return _block(f"heading_{level}", _cap(_text(_clip(text, TEXT_LIMIT))))


def _block(kind: str, rich: RichText) -> Block:
    return {"object": "block", "type": kind, kind: {"rich_text": rich}}


# --- text -------------------------------------------------------------------------------


def _text(content: str, *, url: str | None = None, bold: bool = False) -> RichText:
    """``content`` as text objects of at most TEXT_LIMIT UTF-16 code units each, linked
    to ``url`` when it is a safe http(s) URL; "" gives no objects."""
    link = _safe_url(url)
    parts = []
    for chunk in _chunks(content, TEXT_LIMIT):
        text: dict[str, Any] = {"content": chunk}
        if link:
            text["link"] = {"url": link}
        part: dict[str, Any] = {"type": "text", "text": text}
        if bold:
            part["annotations"] = {"bold": True}
        parts.append(part)
    return parts


def _chunks(text: str, limit: int) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for char in text:
        units = utf16_len(char)
        if size + units > limit:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += units
    if current:
        chunks.append("".join(current))
    return chunks


def utf16_len(text: str) -> int:
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def _merged(rich: RichText) -> RichText:
    """Join neighbouring plain text objects (no link, same look) while they fit."""
    out: RichText = []
    for part in rich:
        last = out[-1] if out else None
        if (
            last is not None
            and "link" not in last["text"]
            and "link" not in part["text"]
            and last.get("annotations") == part.get("annotations")
            and utf16_len(last["text"]["content"] + part["text"]["content"]) <= TEXT_LIMIT
        ):
            last["text"]["content"] += part["text"]["content"]
        else:
            out.append(part)
    return out


def _cap(rich: RichText) -> RichText:
    """At most ARRAY_LIMIT text objects (the inputs are clipped so this rarely cuts)."""
    return rich[:ARRAY_LIMIT]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _safe_url(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL Notion accepts as a link, else None
    (Notion answers "Invalid URL for link" for other schemes and unencoded characters)."""
    if not url or len(url) > URL_LIMIT or not url.startswith(("https://", "http://")):
        return None
    if not url.isascii() or any(c.isspace() or ord(c) < 32 for c in url):
        return None
    if not _public_host(urlsplit(url).hostname or ""):
        return None
    return url


def _public_host(host: str) -> bool:
    """Notion refuses links to hosts such as ``localhost`` or ``127.0.0.1`` (a laptop's
    ``KIROKU_BASE_URL``); those stay plain text rather than fail the whole page."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." in host and not host.endswith((".localhost", ".local", ".internal"))
    return address.is_global


# --- requests ---------------------------------------------------------------------------


def batch_end(children: list[Block], start: int) -> int:
    """The index after the last block of the request that sends ``children[start:]``:
    at most MAX_CHILDREN top-level blocks, MAX_BLOCKS blocks with nested ones and about
    MAX_BYTES of JSON — but always at least one block."""
    end, blocks, size = start, 0, 0
    while end < len(children) and end - start < MAX_CHILDREN:
        block = children[end]
        count = 1 + len(block.get(block["type"], {}).get("children", []))
        weight = len(json.dumps(block, ensure_ascii=False).encode())
        if end > start and (blocks + count > MAX_BLOCKS or size + weight > MAX_BYTES):
            break
        end, blocks, size = end + 1, blocks + count, size + weight
    return end
