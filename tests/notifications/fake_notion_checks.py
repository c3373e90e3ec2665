"""What the fake Notion API checks in request bodies, with Notion's limits and messages.

Each check raises ``Invalid(message)``, which the fake answers as Notion does: 400
``validation_error`` with a message naming the offending path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

TEXT_LIMIT = 2000  # UTF-16 code units, as Notion (JavaScript) counts them
ARRAY_LIMIT = 100
URL_LIMIT = 2000
BLOCKS_PER_REQUEST = 1000
NESTING_LIMIT = 2  # levels of children below the request's own children array
TEXT_BLOCKS = (
    "paragraph",
    "heading_1",
    "heading_2",
    "heading_3",
    "bulleted_list_item",
    "numbered_list_item",
    "quote",
    "callout",
    "toggle",
    "to_do",
)
PROPERTY_TYPES = ("title", "rich_text", "number", "select", "status", "url", "date")


class Invalid(Exception):
    pass


def utf16_len(text: str) -> int:
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def check_rich_text(items: Any, path: str) -> None:
    if not isinstance(items, list):
        raise Invalid(f"{path} should be an array, instead was `{type(items).__name__}`.")
    if len(items) > ARRAY_LIMIT:
        raise Invalid(f"{path}.length should be ≤ `{ARRAY_LIMIT}`, instead was `{len(items)}`.")
    for i, item in enumerate(items):
        where = f"{path}[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("text"), dict):
            raise Invalid(f"{where}.text should be defined, instead was `undefined`.")
        if item.get("type", "text") != "text":
            raise Invalid(f"{where}.type should be `text` (the fake supports text only).")
        content = item["text"].get("content")
        if not isinstance(content, str):
            raise Invalid(f"{where}.text.content should be a string.")
        if utf16_len(content) > TEXT_LIMIT:
            raise Invalid(
                f"{where}.text.content.length should be ≤ `{TEXT_LIMIT}`, "
                f"instead was `{utf16_len(content)}`."
            )
        link = item["text"].get("link")
        if link is not None:
            check_url(link.get("url") if isinstance(link, dict) else None, f"{where}.text.link")
        annotations = item.get("annotations", {})
        if not isinstance(annotations, dict) or not all(
            isinstance(v, bool) or k == "color" for k, v in annotations.items()
        ):
            raise Invalid(f"{where}.annotations should be an object of booleans.")


def check_url(url: Any, path: str) -> None:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise Invalid(f"Invalid URL for link. ({path})")
    if len(url) > URL_LIMIT or any(c.isspace() for c in url):
        raise Invalid(f"{path}.url.length should be ≤ `{URL_LIMIT}` and hold no spaces.")


def check_children(children: Any, path: str) -> int:
    """Check a request's children array; return how many blocks it holds in all."""
    total = _check_block_array(children, path, depth=0)
    if total > BLOCKS_PER_REQUEST:
        raise Invalid(
            f"{path} holds {total} blocks; a request may hold at most {BLOCKS_PER_REQUEST}."
        )
    return total


def _check_block_array(blocks: Any, path: str, depth: int) -> int:
    if not isinstance(blocks, list):
        raise Invalid(f"{path} should be an array.")
    if len(blocks) > ARRAY_LIMIT:
        raise Invalid(f"{path}.length should be ≤ `{ARRAY_LIMIT}`, instead was `{len(blocks)}`.")
    return sum(_check_block(b, f"{path}[{i}]", depth) for i, b in enumerate(blocks))


def _check_block(block: Any, path: str, depth: int) -> int:
    kind = block.get("type") if isinstance(block, dict) else None
    if not isinstance(kind, str) or not isinstance(block.get(kind), dict):
        raise Invalid(f"{path} should be a block object with its type's field.")
    body = block[kind]
    if kind == "divider":
        return 1
    if kind == "table":
        return 1 + _check_table(body, f"{path}.table")
    if kind not in TEXT_BLOCKS:
        raise Invalid(f"{path}.type `{kind}` is not supported by the fake.")
    check_rich_text(body.get("rich_text"), f"{path}.{kind}.rich_text")
    if "children" not in body:
        return 1
    if depth >= NESTING_LIMIT:
        raise Invalid(f"{path}.{kind}.children: blocks nest at most {NESTING_LIMIT} levels.")
    return 1 + _check_block_array(body["children"], f"{path}.{kind}.children", depth + 1)


def _check_table(table: dict, path: str) -> int:
    width = table.get("table_width")
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise Invalid(f"{path}.table_width should be a positive integer.")
    rows = table.get("children")
    if not isinstance(rows, list) or not rows:
        raise Invalid(f"{path}.children should be defined, instead was `undefined`.")
    if len(rows) > ARRAY_LIMIT:
        raise Invalid(
            f"{path}.children.length should be ≤ `{ARRAY_LIMIT}`, instead was `{len(rows)}`."
        )
    for i, row in enumerate(rows):
        where = f"{path}.children[{i}]"
        if not isinstance(row, dict) or row.get("type") != "table_row":
            raise Invalid(f"{where}.type should be `table_row`.")
        cells = row.get("table_row", {}).get("cells")
        if not isinstance(cells, list) or len(cells) != width:
            count = len(cells) if isinstance(cells, list) else "undefined"
            raise Invalid(
                f"{where}.table_row.cells.length should be `{width}` (the table_width), "
                f"instead was `{count}`."
            )
        for j, cell in enumerate(cells):
            check_rich_text(cell, f"{where}.table_row.cells[{j}]")
    return len(rows)


def check_properties(values: Any, schema: dict[str, dict], *, need_title: bool) -> None:
    """Check page property values against a data source's schema."""
    if not isinstance(values, dict):
        raise Invalid("body.properties should be an object.")
    by_id = {spec["id"]: name for name, spec in schema.items()}
    for key, value in values.items():
        name = key if key in schema else by_id.get(key)
        if name is None:
            raise Invalid(f"{key} is not a property that exists.")
        kind = schema[name]["type"]
        if not isinstance(value, dict) or kind not in value:
            raise Invalid(f"{name} is expected to be {kind}.")
        _check_value(kind, value[kind], schema[name], f"body.properties.{name}.{kind}")
    titled = [n for n, s in schema.items() if s["type"] == "title"]
    if need_title and not any(n in values or schema[n]["id"] in values for n in titled):
        raise Invalid("body.properties: the title property should be defined.")


def _check_value(kind: str, value: Any, spec: dict, path: str) -> None:
    if kind not in PROPERTY_TYPES:
        raise Invalid(f"{path}: property type `{kind}` is not supported by the fake.")
    if kind in ("title", "rich_text"):
        check_rich_text(value, path)
    elif value is None:
        return
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(f"{path} should be a number or `null`.")
    elif kind in ("select", "status"):
        name = value.get("name") if isinstance(value, dict) else None
        if not isinstance(name, str) or not name or len(name) > 100 or "," in name:
            raise Invalid(f"{path}.name should be 1-100 characters without commas.")
        options = [o["name"] for o in spec.get(kind, {}).get("options", [])]
        if kind == "status" and name not in options:
            raise Invalid(f"{path}: status option `{name}` does not exist.")
    elif kind == "url":
        if not isinstance(value, str) or len(value) > URL_LIMIT:
            raise Invalid(f"{path} should be a string of at most {URL_LIMIT} characters.")
    elif kind == "date":
        start = value.get("start") if isinstance(value, dict) else None
        try:
            datetime.fromisoformat(start)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise Invalid(f"{path}.start should be an ISO 8601 date.") from None
