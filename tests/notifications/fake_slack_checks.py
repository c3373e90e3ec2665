"""What the fake Slack API checks in a message, as Slack does: text or blocks,
Block Kit limits and the metadata shape. Errors carry Slack's codes and, for blocks,
its messages with JSON pointers."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_TEXT = 40000

_EVENT_TYPE = re.compile(r"^[A-Za-z0-9_]{1,255}$")


class SlackError(Exception):
    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra


def message_content(params: dict[str, Any]) -> tuple[str, Any, Any]:
    """``(text, blocks, metadata)`` of a ``chat.postMessage`` call, or ``SlackError``."""
    text = params.get("text") or ""
    blocks = _json_field(params.get("blocks"), "invalid_blocks_format")
    metadata = _json_field(params.get("metadata"), "invalid_metadata_format")
    if not isinstance(text, str):
        raise SlackError("invalid_arguments")
    if blocks is not None:
        errors = block_errors(blocks)
        if errors:
            messages = [f"[ERROR] {e}" for e in errors]
            raise SlackError(
                "invalid_blocks", errors=errors, response_metadata={"messages": messages}
            )
    if not text.strip() and not blocks:
        raise SlackError("no_text")
    if len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise SlackError("invalid_metadata_format")
        event_type = metadata.get("event_type")
        if (
            not isinstance(event_type, str)
            or not _EVENT_TYPE.match(event_type)
            or not isinstance(metadata.get("event_payload"), dict)
        ):
            raise SlackError("invalid_metadata_schema")
    return text, blocks, metadata


def _json_field(value: Any, error: str) -> Any:
    """Form bodies carry blocks and metadata as JSON strings; JSON bodies as values."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise SlackError(error) from None
    return value


def _text_errors(obj: Any, pointer: str, limit: int, types: tuple[str, ...]) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in types:
        return [f"must be a text object of type {' or '.join(types)} [json-pointer:{pointer}]"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"must be more than 0 characters [json-pointer:{pointer}/text]"]
    if len(text) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{pointer}/text]"]
    return []


def block_errors(blocks: Any) -> list[str]:
    """Slack's Block Kit checks for the block types Kiroku posts (others are refused
    as unsupported, which is stricter than Slack)."""
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    if len(blocks) > MAX_BLOCKS:
        return [f"must provide an array of no more than {MAX_BLOCKS} items [json-pointer:/blocks]"]
    errors: list[str] = []
    both = ("mrkdwn", "plain_text")
    for i, block in enumerate(blocks):
        at = f"/blocks/{i}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "header":
            errors += _text_errors(
                block.get("text"), f"{at}/text", MAX_HEADER_TEXT, ("plain_text",)
            )
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                errors.append(f"must provide text or fields [json-pointer:{at}]")
            if "text" in block:
                errors += _text_errors(block["text"], f"{at}/text", MAX_SECTION_TEXT, both)
            if "fields" in block:
                fields = block["fields"]
                if not isinstance(fields, list) or not 1 <= len(fields) <= MAX_FIELDS:
                    errors.append(
                        f"must provide 1 to {MAX_FIELDS} items [json-pointer:{at}/fields]"
                    )
                else:
                    for j, field in enumerate(fields):
                        errors += _text_errors(field, f"{at}/fields/{j}", MAX_FIELD_TEXT, both)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= MAX_CONTEXT_ELEMENTS:
                errors.append(
                    f"must provide 1 to {MAX_CONTEXT_ELEMENTS} items [json-pointer:{at}/elements]"
                )
            else:
                for j, element in enumerate(elements):
                    errors += _text_errors(element, f"{at}/elements/{j}", MAX_SECTION_TEXT, both)
        elif kind != "divider":
            errors.append(f"unsupported type: {kind!r} [json-pointer:{at}/type]")
    return errors
