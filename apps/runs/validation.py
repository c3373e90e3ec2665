"""Fast validation of what clients send about runs.

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
from typing import Any

from apps.core.errors import Invalid
from apps.core.floats import NON_FINITE_IN
from apps.core.times import time_clean
from apps.runs import limits
from apps.runs.models import RunStatus

_KEY_RE = re.compile(r"^[\w\-. /]+$")
_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_BATCH_ID_RE = re.compile(limits.BATCH_ID_PATTERN)
_CLIENT_ID_RE = re.compile(limits.CLIENT_ID_PATTERN)
_RUN_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def key_clean(value: Any, *, field: str) -> str:
    """A metric, param, tag or summary key: NFC-normalised, 1 to 250 characters of
    letters, digits, ``_ - . / space``; no ``..`` and no leading ``/``."""
    if not isinstance(value, str):
        raise Invalid("key must be a string", field=field)
    key = unicodedata.normalize("NFC", value)
    if not 1 <= len(key) <= limits.MAX_KEY_LENGTH:
        raise Invalid(f"key must be 1 to {limits.MAX_KEY_LENGTH} characters", field=field)
    if not _KEY_RE.match(key):
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
    if not _NUMBER_RE.match(text.strip()):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def _mapping(value: Any, *, field: str, limit: int) -> dict:
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
        if raw_value is None and allow_delete:
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
        size = len(json.dumps(raw_value))
        if size > limits.MAX_SUMMARY_VALUE_BYTES:
            raise Invalid(
                f"value is {size} bytes of JSON; at most {limits.MAX_SUMMARY_VALUE_BYTES}",
                field=f"{field}.{key}",
            )
        result[key] = raw_value
    return result


def _text(value: Any, *, field: str, max_length: int, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise Invalid("must be a string", field=field)
    if len(value) > max_length:
        raise Invalid(f"must be at most {max_length} characters", field=field)
    return value


def _optional_int(value: Any, *, field: str, minimum: int = 0) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise Invalid(f"must be an integer of at least {minimum}", field=field)
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
                uri=_text(item.get("uri"), field=f"{where}.uri", max_length=1000),
                digest=_text(item.get("digest"), field=f"{where}.digest", max_length=128),
                size=_optional_int(item.get("size"), field=f"{where}.size"),
                file_count=_optional_int(item.get("file_count"), field=f"{where}.file_count"),
                source=_text(item.get("source"), field=f"{where}.source", max_length=50),
            )
        )
    return result


@dataclass
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
    keys_seen: dict[Any, str] = {}
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise Invalid(
                "must be an object {key, value, step, timestamp?}", field=f"{field}[{index}]"
            )
        raw_key = item.get("key")
        key = keys_seen.get(raw_key) if isinstance(raw_key, str) else None
        if key is None:
            key = key_clean(raw_key, field=f"{field}[{index}].key")
            keys_seen[raw_key] = key
        number = item.get("value")
        if isinstance(number, bool) or not isinstance(number, int | float):
            if isinstance(number, str) and number in NON_FINITE_IN:
                number = NON_FINITE_IN[number]
            else:
                raise Invalid(
                    'value must be a number, or one of the strings "NaN", "Infinity", "-Infinity"',
                    field=f"{field}[{index}].value",
                )
        number = float(number)
        step = item.get("step")
        if isinstance(step, bool) or not isinstance(step, int):
            raise Invalid("step is required and must be an integer", field=f"{field}[{index}].step")
        if not limits.MIN_STEP <= step <= limits.MAX_STEP:
            raise Invalid(
                "step must fit in a signed 64-bit integer", field=f"{field}[{index}].step"
            )
        raw_time = item.get("timestamp")
        timestamp = (
            now if raw_time is None else time_clean(raw_time, field=f"{field}[{index}].timestamp")
        )
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


def _unknown_fields(data: dict, known: set[str]) -> None:
    unknown = set(data) - known
    if unknown:
        raise Invalid(f"unknown field; expected some of {sorted(known)}", field=sorted(unknown)[0])


def log_batch_clean(data: Any, *, now: datetime) -> LogBatchIn:
    if not isinstance(data, dict):
        raise Invalid("request body must be a JSON object")
    _unknown_fields(data, LOG_FIELDS)
    batch_id = data.get("batch_id")
    if not isinstance(batch_id, str) or not _BATCH_ID_RE.match(batch_id):
        raise Invalid(
            "batch_id is required: 1 to 64 characters of letters, digits, '_', '-', '.', ':'",
            field="batch_id",
        )
    return LogBatchIn(
        batch_id=batch_id,
        points=metrics_clean(data.get("metrics"), now=now),
        params=params_clean(data.get("params")),
        tags=tags_clean(data.get("tags")),
        summary=summary_clean(data.get("summary")),
        datasets=datasets_clean(data.get("datasets")),
    )


# --- run records -----------------------------------------------------------------

_CREDENTIALS_RE = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@")


def remote_strip_credentials(remote: str) -> str:
    """``https://user:token@host/x.git`` → ``https://host/x.git``."""
    return _CREDENTIALS_RE.sub(r"\g<scheme>", remote)


@dataclass
class GitIn:
    commit: str = ""
    branch: str = ""
    remote: str = ""
    dirty: bool | None = None
    diff: str = ""
    diff_truncated: bool = False


def git_clean(value: Any, *, field: str = "git") -> GitIn | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid("git must be an object", field=field)
    _unknown_fields(value, {"commit", "branch", "remote", "dirty", "diff", "diff_truncated"})
    dirty = value.get("dirty")
    if dirty is not None and not isinstance(dirty, bool):
        raise Invalid("must be true, false or null", field=f"{field}.dirty")
    diff = value.get("diff") or ""
    if not isinstance(diff, str):
        raise Invalid("must be a string", field=f"{field}.diff")
    truncated = bool(value.get("diff_truncated"))
    encoded = diff.encode("utf-8")
    if len(encoded) > limits.MAX_GIT_DIFF_BYTES:
        diff = encoded[: limits.MAX_GIT_DIFF_BYTES].decode("utf-8", errors="ignore")
        truncated = True
    return GitIn(
        commit=_text(value.get("commit"), field=f"{field}.commit", max_length=64),
        branch=_text(value.get("branch"), field=f"{field}.branch", max_length=250),
        remote=remote_strip_credentials(
            _text(value.get("remote"), field=f"{field}.remote", max_length=500)
        ),
        dirty=dirty,
        diff=diff,
        diff_truncated=truncated,
    )


ENVIRONMENT_FIELDS = {
    "python": str,
    "packages": list,
    "os": str,
    "cpu_count": int,
    "memory": int,
    "gpus": list,
    "command": (str, list),
    "cwd": str,
    "hostname": str,
}
CI_FIELDS = {
    "provider": str,
    "commit": str,
    "ref": str,
    "branch": str,
    "pr": int,
    "workflow_url": str,
    "workflow": str,
    "repository": str,
    "run_id": str,
    "run_attempt": int,
    "event": str,
    "base_ref": str,
    "head_ref": str,
    "job": str,
    "actor": str,
}


def _typed_object(value: Any, *, field: str, fields: dict, max_bytes: int) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"{field} must be an object", field=field)
    _unknown_fields(value, set(fields))
    for name, expected in fields.items():
        item = value.get(name)
        if item is None:
            continue
        if isinstance(item, bool) or not isinstance(item, expected):
            kinds = expected if isinstance(expected, tuple) else (expected,)
            raise Invalid(
                f"must be a {' or '.join(k.__name__ for k in kinds)}", field=f"{field}.{name}"
            )
    size = len(json.dumps(value))
    if size > max_bytes:
        raise Invalid(f"{field} is {size} bytes of JSON; at most {max_bytes}", field=field)
    return {k: v for k, v in value.items() if v is not None}


def environment_clean(value: Any) -> dict:
    env = _typed_object(
        value,
        field="environment",
        fields=ENVIRONMENT_FIELDS,
        max_bytes=limits.MAX_ENVIRONMENT_BYTES,
    )
    if len(env.get("packages", [])) > limits.MAX_PACKAGES:
        raise Invalid(f"at most {limits.MAX_PACKAGES} packages", field="environment.packages")
    return env


def ci_clean(value: Any) -> dict:
    return _typed_object(value, field="ci", fields=CI_FIELDS, max_bytes=limits.MAX_CI_BYTES)


@dataclass
class RunCreateIn:
    name: str = ""
    group: str = ""
    notes: str = ""
    client_id: str | None = None
    parent_id: str | None = None
    started_at: datetime | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str | None] = field(default_factory=dict)
    git: GitIn | None = None
    environment: dict = field(default_factory=dict)
    ci: dict = field(default_factory=dict)
    datasets: list[DatasetIn] = field(default_factory=list)


RUN_CREATE_FIELDS = {
    "name",
    "group",
    "notes",
    "client_id",
    "parent_id",
    "started_at",
    "params",
    "tags",
    "git",
    "environment",
    "ci",
    "datasets",
}


def run_create_clean(data: Any) -> RunCreateIn:
    if not isinstance(data, dict):
        raise Invalid("request body must be a JSON object")
    _unknown_fields(data, RUN_CREATE_FIELDS)
    client_id = data.get("client_id")
    if client_id is not None and (
        not isinstance(client_id, str) or not _CLIENT_ID_RE.match(client_id)
    ):
        raise Invalid("client_id must be 8 to 64 letters, digits, '_' or '-'", field="client_id")
    parent_id = data.get("parent_id")
    if parent_id is not None and (
        not isinstance(parent_id, str) or not _RUN_ID_RE.match(parent_id)
    ):
        raise Invalid("parent_id must be a run id (32 hex characters)", field="parent_id")
    return RunCreateIn(
        name=_text(data.get("name"), field="name", max_length=limits.MAX_NAME_LENGTH),
        group=_text(data.get("group"), field="group", max_length=limits.MAX_NAME_LENGTH),
        notes=_text(data.get("notes"), field="notes", max_length=limits.MAX_NOTES_LENGTH),
        client_id=client_id,
        parent_id=parent_id,
        started_at=time_clean(data.get("started_at"), field="started_at"),
        params=params_clean(data.get("params")),
        tags=tags_clean(data.get("tags")),
        git=git_clean(data.get("git")),
        environment=environment_clean(data.get("environment")),
        ci=ci_clean(data.get("ci")),
        datasets=datasets_clean(data.get("datasets")),
    )


@dataclass
class RunUpdateIn:
    name: str | None = None
    notes: str | None = None
    tags: dict[str, str | None] = field(default_factory=dict)


def run_update_clean(data: Any) -> RunUpdateIn:
    if not isinstance(data, dict):
        raise Invalid("request body must be a JSON object")
    _unknown_fields(data, {"name", "notes", "tags"})
    return RunUpdateIn(
        name=_text(data.get("name"), field="name", max_length=limits.MAX_NAME_LENGTH, default=None)
        if "name" in data
        else None,
        notes=_text(data.get("notes"), field="notes", max_length=limits.MAX_NOTES_LENGTH)
        if "notes" in data
        else None,
        tags=tags_clean(data.get("tags"), allow_delete=True),
    )


FINISH_STATUSES = {
    "finished": RunStatus.FINISHED,
    "failed": RunStatus.FAILED,
    "killed": RunStatus.KILLED,
}


@dataclass
class RunFinishIn:
    status: RunStatus
    summary: dict[str, Any]
    ended_at: datetime | None


def run_finish_clean(data: Any) -> RunFinishIn:
    if not isinstance(data, dict):
        raise Invalid("request body must be a JSON object")
    _unknown_fields(data, {"status", "summary", "ended_at"})
    raw = data.get("status", "finished")
    status = FINISH_STATUSES.get(raw.lower()) if isinstance(raw, str) else None
    if status is None:
        raise Invalid("status must be one of finished, failed, killed", field="status")
    return RunFinishIn(
        status=status,
        summary=summary_clean(data.get("summary")),
        ended_at=time_clean(data.get("ended_at"), field="ended_at"),
    )
