"""Validation of run records: create, update, finish, and their git, environment
and CI parts."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apps.core.errors import Invalid
from apps.core.times import time_clean
from apps.core.validation import json_object_clean
from apps.runs import limits
from apps.runs.models import RunStatus
from apps.runs.validation.batch import (
    DatasetIn,
    datasets_clean,
    fields_known,
    params_clean,
    summary_clean,
    tags_clean,
    text_clean,
)

_CLIENT_ID_RE = re.compile(limits.CLIENT_ID_PATTERN)
_RUN_ID_RE = re.compile(r"^[0-9a-f]{32}$")


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
    fields_known(value, {"commit", "branch", "remote", "dirty", "diff", "diff_truncated"})
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
        commit=text_clean(value.get("commit"), field=f"{field}.commit", max_length=64),
        branch=text_clean(value.get("branch"), field=f"{field}.branch", max_length=250),
        remote=remote_strip_credentials(
            text_clean(value.get("remote"), field=f"{field}.remote", max_length=500)
        ),
        dirty=dirty,
        diff=diff,
        diff_truncated=truncated,
    )


# Each field's JSON type, as isinstance takes it (bool never counts as an int here).
FieldTypes = dict[str, type | tuple[type, ...]]

ENVIRONMENT_FIELDS: FieldTypes = {
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
CI_FIELDS: FieldTypes = {
    "provider": str,
    "commit": str,
    "ref": str,
    "branch": str,
    "pr": int,
    "pr_url": str,
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


def _typed_object(value: Any, *, field: str, fields: FieldTypes, max_bytes: int) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"{field} must be an object", field=field)
    fields_known(value, set(fields))
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


def environment_clean(value: Any) -> dict[str, Any]:
    env = _typed_object(
        value,
        field="environment",
        fields=ENVIRONMENT_FIELDS,
        max_bytes=limits.MAX_ENVIRONMENT_BYTES,
    )
    if len(env.get("packages", [])) > limits.MAX_PACKAGES:
        raise Invalid(f"at most {limits.MAX_PACKAGES} packages", field="environment.packages")
    return env


def ci_clean(value: Any) -> dict[str, Any]:
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
    environment: dict[str, Any] = field(default_factory=dict)
    ci: dict[str, Any] = field(default_factory=dict)
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
    json_object_clean(data)
    fields_known(data, RUN_CREATE_FIELDS)
    client_id = data.get("client_id")
    if client_id is not None and (
        not isinstance(client_id, str) or not _CLIENT_ID_RE.fullmatch(client_id)
    ):
        raise Invalid("client_id must be 8 to 64 letters, digits, '_' or '-'", field="client_id")
    parent_id = data.get("parent_id")
    if parent_id is not None and (
        not isinstance(parent_id, str) or not _RUN_ID_RE.fullmatch(parent_id)
    ):
        raise Invalid("parent_id must be a run id (32 hex characters)", field="parent_id")
    return RunCreateIn(
        name=text_clean(data.get("name"), field="name", max_length=limits.MAX_NAME_LENGTH),
        group=text_clean(data.get("group"), field="group", max_length=limits.MAX_NAME_LENGTH),
        notes=text_clean(data.get("notes"), field="notes", max_length=limits.MAX_NOTES_LENGTH),
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
    json_object_clean(data)
    fields_known(data, {"name", "notes", "tags"})
    limit = limits.MAX_NAME_LENGTH
    return RunUpdateIn(
        name=text_clean(data.get("name"), field="name", max_length=limit)
        if "name" in data
        else None,
        notes=text_clean(data.get("notes"), field="notes", max_length=limits.MAX_NOTES_LENGTH)
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
    json_object_clean(data)
    fields_known(data, {"status", "summary", "ended_at"})
    raw = data.get("status", "finished")
    status = FINISH_STATUSES.get(raw.lower()) if isinstance(raw, str) else None
    if status is None:
        raise Invalid("status must be one of finished, failed, killed", field="status")
    return RunFinishIn(
        status=status,
        summary=summary_clean(data.get("summary")),
        ended_at=time_clean(data.get("ended_at"), field="ended_at"),
    )
