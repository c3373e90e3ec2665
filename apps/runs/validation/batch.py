"""Fast validation of log batches and the pieces runs share (keys, params, tags...).

Hand-written rather than a serializer per item: a log batch carries up to 10,000
points and is checked whole before anything is written. Every error names the
field (with the item's index) and the limit.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from apps.core.errors import Invalid
from apps.core.floats import NON_FINITE_IN
from apps.core.times import time_clean
from apps.core.validation import json_object_clean
from apps.runs import limits

# fullmatch, not ^...$: "$" also matches before a final newline.
_KEY_RE = re.compile(r"[\w\-. /]+")
_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_BATCH_ID_RE = re.compile(limits.BATCH_ID_PATTERN)


def key_clean(value: Any, *, field: str) -> str:
    """A metric, param, tag or summary key: NFC-normalised, 1 to 250 characters of
    letters, digits, ``_ - . / space``; no ``..`` and no leading ``/``."""
    if not isinstance(value, str):
        raise Invalid("key must be a string", field=field)
    key = unicodedata.normalize("NFC", value)
    if not 1 <= len(key) <= limits.MAX_KEY_LENGTH:
        raise Invalid(f"key must be 1 to {limits.MAX_KEY_LENGTH} characters", field=field)
    if not _KEY_RE.fullmatch(key):
        raise Invalid(
            "key may contain only letters, digits, '_', '-', '.', '/' and spaces", field=field
        )
    if ".." in key or key.startswith("/"):
        raise Invalid("key must not contain '..' or start with '/'", field=field)
    return key


def value_as_text(value: Any, *, field: str, max_length: int) -> str:
    """Params and tags are text; other JSON scalars are turned into text the way
    Python's ``str`` does (what MLflow's client sends), lists and objects as JSON."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool | int | float) or value is None:
        text = str(value)
    elif isinstance(value, list | dict):
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    else:
        raise Invalid("value must be a string, number, boolean, list or object", field=field)
    if len(text) > max_length:
        raise Invalid(f"value is longer than {max_length} characters", field=field)
    return text


def number_or_none(text: str) -> float | None:
    """The number a param's text spells, or None (so '1e-3' compares as 0.001)."""
    if not _NUMBER_RE.fullmatch(text.strip()):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def _mapping(value: Any, *, field: str, limit: int) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"{field} must be an object of key: value", field=field)
    if len(value) > limit:
        raise Invalid(f"{field} has {len(value)} entries; at most {limit} per request", field=field)
    return value


def params_clean(value: Any, *, field: str = "params") -> dict[str, str]:
    result: dict[str, str] = {}
    for raw_key, raw_value in _mapping(
        value, field=field, limit=limits.MAX_PARAMS_PER_BATCH
    ).items():
        key = key_clean(raw_key, field=f"{field}.{raw_key}")
        result[key] = value_as_text(
            raw_value, field=f"{field}.{key}", max_length=limits.MAX_PARAM_VALUE_LENGTH
        )
    return result


def tags_clean(
    value: Any, *, field: str = "tags", allow_delete: bool = False
) -> dict[str, str | None]:
    result: dict[str, str | None] = {}
    for raw_key, raw_value in _mapping(value, field=field, limit=limits.MAX_TAGS_PER_BATCH).items():
        key = key_clean(raw_key, field=f"{field}.{raw_key}")
        if raw_value is None:
            if not allow_delete:
                raise Invalid("a tag's value must not be null here", field=f"{field}.{key}")
            result[key] = None
            continue
        result[key] = value_as_text(
            raw_value, field=f"{field}.{key}", max_length=limits.MAX_TAG_VALUE_LENGTH
        )
    return result


def summary_clean(value: Any, *, field: str = "summary") -> dict[str, Any]:
    result: dict[str, Any] = {}
    mapping = _mapping(value, field=field, limit=limits.MAX_SUMMARY_PER_BATCH)
    for raw_key, raw_value in mapping.items():
        key = key_clean(raw_key, field=f"{field}.{raw_key}")
        try:
            size = len(json.dumps(raw_value, allow_nan=False))
        except ValueError:
            raise Invalid(
                'numbers must be within float64 range; send "NaN" or "Infinity" as strings',
                field=f"{field}.{key}",
            ) from None
        if size > limits.MAX_SUMMARY_VALUE_BYTES:
            raise Invalid(
                f"value is {size} bytes of JSON; at most {limits.MAX_SUMMARY_VALUE_BYTES}",
                field=f"{field}.{key}",
            )
        result[key] = raw_value
    return result


def text_clean(value: Any, *, field: str, max_length: int, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise Invalid("must be a string", field=field)
    if len(value) > max_length:
        raise Invalid(f"must be at most {max_length} characters", field=field)
    return value


def _optional_int(
    value: Any, *, field: str, minimum: int = 0, maximum: int = limits.MAX_BIGINT
) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise Invalid(f"must be an integer from {minimum} to {maximum}", field=field)
    return value


@dataclass
class DatasetIn:
    name: str
    uri: str = ""
    digest: str = ""
    size: int | None = None
    file_count: int | None = None
    source: str = ""


def datasets_clean(value: Any, *, field: str = "datasets") -> list[DatasetIn]:
    if value is None:
        return []
    if isinstance(value, dict):  # {"train": "data/train"} is accepted as a shorthand
        value = [{"name": k, "uri": v} for k, v in value.items()]
    if not isinstance(value, list):
        raise Invalid("datasets must be a list of objects", field=field)
    if len(value) > limits.MAX_DATASETS_PER_BATCH:
        raise Invalid(f"at most {limits.MAX_DATASETS_PER_BATCH} datasets per request", field=field)
    result = []
    known = {"name", "uri", "digest", "size", "file_count", "source"}
    for index, item in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(item, dict):
            raise Invalid("must be an object", field=where)
        unknown = set(item) - known
        if unknown:
            raise Invalid(
                f"unknown field {sorted(unknown)[0]!r}; known: {sorted(known)}", field=where
            )
        result.append(
            DatasetIn(
                name=key_clean(item.get("name"), field=f"{where}.name"),
                uri=text_clean(item.get("uri"), field=f"{where}.uri", max_length=1000),
                digest=text_clean(item.get("digest"), field=f"{where}.digest", max_length=128),
                size=_optional_int(item.get("size"), field=f"{where}.size"),
                file_count=_optional_int(item.get("file_count"), field=f"{where}.file_count"),
                source=text_clean(item.get("source"), field=f"{where}.source", max_length=50),
            )
        )
    return result


@dataclass(slots=True)
class PointIn:
    key: str
    step: int
    value: float
    timestamp: datetime


def metrics_clean(value: Any, *, now: datetime, field: str = "metrics") -> list[PointIn]:
    """Points of a batch, in order, each checked; the first bad one is reported with
    its index. Repeats of one (key, step) keep the last (last write wins)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid("metrics must be a list of {key, value, step, timestamp?}", field=field)
    if len(value) > limits.MAX_METRICS_PER_BATCH:
        raise Invalid(
            f"batch has {len(value)} metric points; at most {limits.MAX_METRICS_PER_BATCH} "
            "per request",
            field=field,
        )
    points: dict[tuple[str, int], PointIn] = {}
    keys_seen: dict[str, str] = {}
    non_finite = NON_FINITE_IN
    min_step, max_step = limits.MIN_STEP, limits.MAX_STEP
    isfinite = math.isfinite
    # The hot path of ingestion: exact type checks (bool is not a number here) and
    # locals, so 10,000 points cost a few milliseconds.
    for index, item in enumerate(value):
        if type(item) is not dict:
            raise Invalid(
                "must be an object {key, value, step, timestamp?}", field=f"{field}[{index}]"
            )
        # Unchecked JSON, hence Any: the checks below turn each into its type.
        raw_key: Any = item.get("key")
        key = keys_seen.get(raw_key) if type(raw_key) is str else None
        if key is None:
            key = key_clean(raw_key, field=f"{field}[{index}].key")
            keys_seen[raw_key] = key
        number: Any = item.get("value")
        kind = type(number)
        if kind is int:
            try:
                number = float(number)
            except OverflowError:
                number = math.inf
            kind = float
        if kind is float:
            if not isfinite(number):
                raise Invalid(
                    "number is out of float64 range; send infinities as the strings "
                    '"Infinity" or "-Infinity"',
                    field=f"{field}[{index}].value",
                )
        elif kind is str and number in non_finite:
            number = non_finite[number]
        else:
            raise Invalid(
                'value must be a number, or one of the strings "NaN", "Infinity", "-Infinity"',
                field=f"{field}[{index}].value",
            )
        step = item.get("step")
        if type(step) is not int:
            raise Invalid("step is required and must be an integer", field=f"{field}[{index}].step")
        if not min_step <= step <= max_step:
            raise Invalid(
                "step must fit in a signed 64-bit integer", field=f"{field}[{index}].step"
            )
        raw_time = item.get("timestamp")
        if raw_time is None:
            timestamp = now
        else:
            # time_clean answers None only for None, which raw_time is not here.
            timestamp = cast(datetime, time_clean(raw_time, field=f"{field}[{index}].timestamp"))
        points[(key, step)] = PointIn(key, step, number, timestamp)
    return list(points.values())


@dataclass
class LogBatchIn:
    batch_id: str
    points: list[PointIn] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str | None] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    datasets: list[DatasetIn] = field(default_factory=list)


LOG_FIELDS = {"batch_id", "metrics", "params", "tags", "summary", "datasets"}


def fields_known(data: dict[str, Any], known: set[str]) -> None:
    unknown = set(data) - known
    if unknown:
        raise Invalid(f"unknown field; expected some of {sorted(known)}", field=sorted(unknown)[0])


def log_batch_clean(data: Any, *, now: datetime) -> LogBatchIn:
    json_object_clean(data)
    fields_known(data, LOG_FIELDS)
    batch_id = data.get("batch_id")
    if not isinstance(batch_id, str) or not _BATCH_ID_RE.fullmatch(batch_id):
        raise Invalid(
            "batch_id is required: 1 to 64 characters of letters, digits, '_', '-', '.', ':'",
            field="batch_id",
        )
    return LogBatchIn(
        batch_id=batch_id,
        points=metrics_clean(data.get("metrics"), now=now),
        params=params_clean(data.get("params")),
        tags=tags_clean(data.get("tags"), allow_delete=True),
        summary=summary_clean(data.get("summary")),
        datasets=datasets_clean(data.get("datasets")),
    )
