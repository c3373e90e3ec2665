"""Checking artifact requests. Each function returns clean values or raises Invalid
naming the field and the limit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from apps.artifacts.paths import artifact_path_clean
from apps.core.errors import Invalid
from apps.core.validation import json_object

MIB = 1024 * 1024
# S3's own limits: objects up to 5 TiB, at most 10,000 parts of at least 5 MiB.
MAX_SIZE = 5 * 1024 * 1024 * MIB
MAX_PARTS = 10_000
MIN_PART_SIZE = 8 * MIB
DEFAULT_CONTENT_TYPE = "application/octet-stream"
MAX_CONTENT_TYPE = 255

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_MEDIA_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_CONTENT_TYPE = re.compile(rf"^{_MEDIA_NAME}/{_MEDIA_NAME}(; ?charset=[A-Za-z0-9_.:-]{{1,40}})?$")


@dataclass(frozen=True)
class ArtifactCreateIn:
    path: str
    size: int
    sha256: str
    content_type: str
    parts_sha256: list[str] | None


def part_size_for(size: int) -> int:
    """The part size of a multipart upload of ``size`` bytes: 8 MiB, or more (in whole
    MiB) when 8 MiB parts would be more than 10,000."""
    needed = -(-size // MAX_PARTS)
    return max(MIN_PART_SIZE, -(-needed // MIB) * MIB)


def _sha256(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value.lower()):
        raise Invalid(f"{field} must be a SHA-256 digest: 64 hexadecimal characters", field=field)
    return value.lower()


def sha256_list_clean(value: Any, field: str, *, count: int | None = None) -> list[str]:
    if not isinstance(value, list) or not value:
        raise Invalid(f"{field} must be a non-empty list of SHA-256 digests", field=field)
    if len(value) > MAX_PARTS:
        raise Invalid(f"{field} may hold at most {MAX_PARTS} digests", field=field)
    if count is not None and len(value) != count:
        raise Invalid(f"{field} must hold {count} digests, one per part", field=field)
    return [_sha256(item, f"{field}[{index}]") for index, item in enumerate(value)]


def artifact_create_clean(data: Any) -> ArtifactCreateIn:
    body = json_object(data, {"path", "size", "sha256", "content_type", "parts_sha256"})
    for required in ("path", "size", "sha256"):
        if required not in body:
            raise Invalid(f"{required} is required", field=required)
    path = artifact_path_clean(body["path"])
    size = body["size"]
    if type(size) is not int or not 0 <= size <= MAX_SIZE:
        raise Invalid(f"size must be an integer from 0 to {MAX_SIZE} (5 TiB)", field="size")
    content_type = body.get("content_type") or DEFAULT_CONTENT_TYPE
    if (
        not isinstance(content_type, str)
        or len(content_type) > MAX_CONTENT_TYPE
        or not _CONTENT_TYPE.fullmatch(content_type)
    ):
        raise Invalid(
            "content_type must be a media type like text/csv (optionally '; charset=...'), "
            f"at most {MAX_CONTENT_TYPE} characters",
            field="content_type",
        )
    parts = body.get("parts_sha256")
    return ArtifactCreateIn(
        path=path,
        size=size,
        sha256=_sha256(body["sha256"], "sha256"),
        content_type=content_type.lower(),
        parts_sha256=None if parts is None else sha256_list_clean(parts, "parts_sha256"),
    )


def parts_request_clean(data: Any, *, part_count: int) -> tuple[list[str], list[int]]:
    """``(sha256 of every part, the part numbers whose URLs are wanted)``."""
    body = json_object(data, {"sha256", "numbers"})
    if "sha256" not in body:
        raise Invalid("sha256 is required: the SHA-256 of every part", field="sha256")
    digests = sha256_list_clean(body["sha256"], "sha256", count=part_count)
    numbers = body.get("numbers")
    if numbers is None:
        return digests, list(range(1, part_count + 1))
    if not isinstance(numbers, list) or not all(
        type(n) is int and 1 <= n <= part_count for n in numbers
    ):
        raise Invalid(
            f"numbers must be a list of part numbers from 1 to {part_count}", field="numbers"
        )
    return digests, sorted(set(numbers))


def complete_clean(data: Any, *, multipart: bool, part_count: int) -> list[tuple[int, str]]:
    """The ``(number, etag)`` of every part (empty for a single PUT)."""
    body = json_object(data if data is not None else {}, {"parts"})
    if not multipart:
        if "parts" in body:
            raise Invalid("parts is only for multipart uploads", field="parts")
        return []
    parts = body.get("parts")
    if not isinstance(parts, list) or len(parts) != part_count:
        raise Invalid(f"parts must list all {part_count} parts as {{number, etag}}", field="parts")
    clean: list[tuple[int, str]] = []
    for index, item in enumerate(parts):
        field = f"parts[{index}]"
        if not isinstance(item, dict) or set(item) != {"number", "etag"}:
            raise Invalid(f"{field} must be an object with number and etag", field=field)
        number, etag = item["number"], item["etag"]
        if type(number) is not int or not 1 <= number <= part_count:
            raise Invalid(f"{field}.number must be from 1 to {part_count}", field=field)
        if not isinstance(etag, str) or not 1 <= len(etag) <= 200:
            raise Invalid(
                f"{field}.etag must be the part's ETag (1 to 200 characters)", field=field
            )
        clean.append((number, etag))
    if sorted(number for number, _ in clean) != list(range(1, part_count + 1)):
        raise Invalid(f"parts must number 1 to {part_count}, each once", field="parts")
    return clean
