"""Checking what clients send to the model registry: each function returns a frozen
dataclass of clean values or raises Invalid naming the field and the limit. The API
and the portal call the same functions. What needs the database (a run of another
project, a protected alias) is the services' to check."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from apps.core.errors import Invalid
from apps.core.validation import json_object
from apps.runs.validation import key_clean, tags_clean

DESCRIPTION_MAX = 10_000
FLAVOR_MAX = 100
METADATA_MAX_BYTES = 64 * 1024
REASON_MAX = 2_000
ALIASES_PER_VERSION_MAX = 10
TAGS_MAX = 100
ALIAS_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# "latest" is how a reference names the newest version; digits name a version number.
ALIAS_RESERVED = {"latest"}


def model_name_clean(value: Any, *, field: str = "name") -> str:
    """A model name: the characters and length of a metric key (1 to 250 letters,
    digits, ``_ - .`` and spaces; no ``..``) without ``/``, which separates the name
    from a version number in a reference (``resnet/3``) and in URLs."""
    name = key_clean(value, field=field)
    if "/" in name:
        raise Invalid("a model name must not contain '/'", field=field)
    return name


def alias_clean(value: Any, *, field: str = "alias") -> str:
    """1 to 64 letters, digits, ``_`` or ``-``; not all digits and not ``latest``
    (those name versions in a reference such as ``resnet/3``)."""
    if not isinstance(value, str) or not ALIAS_RE.fullmatch(value):
        raise Invalid("an alias is 1 to 64 letters, digits, '_' or '-'", field=field)
    if value.isdigit() or value.lower() in ALIAS_RESERVED:
        raise Invalid(f"'{value}' cannot be an alias: it names a version", field=field)
    return value


def description_clean(value: Any, *, field: str = "description") -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > DESCRIPTION_MAX:
        raise Invalid(f"{field} must be text of at most {DESCRIPTION_MAX} characters", field=field)
    return value


def model_tags_clean(value: Any, *, field: str = "tags") -> dict[str, str]:
    """``{key: text}``, at most 100 tags, keys as metric keys, values up to 5,000
    characters (a null value is refused: a change replaces the whole set)."""
    if value is None:
        return {}
    if isinstance(value, dict) and len(value) > TAGS_MAX:
        raise Invalid(f"{field} holds at most {TAGS_MAX} tags", field=field)
    cleaned = tags_clean(value, field=field)
    return {key: text for key, text in cleaned.items() if text is not None}


def reason_clean(value: Any, *, field: str = "reason", required: bool = False) -> str:
    if value is None or value == "":
        if required:
            raise Invalid(f"{field} is required: say why", field=field)
        return ""
    if not isinstance(value, str) or len(value.strip()) > REASON_MAX:
        raise Invalid(f"{field} must be text of at most {REASON_MAX} characters", field=field)
    return value.strip()


def _metadata_clean(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid("metadata must be a JSON object", field="metadata")
    try:
        size = len(json.dumps(value, allow_nan=False, separators=(",", ":")))
    except ValueError:
        raise Invalid("metadata must not hold NaN or Infinity", field="metadata") from None
    if size > METADATA_MAX_BYTES:
        raise Invalid(
            f"metadata must be at most {METADATA_MAX_BYTES} bytes as JSON", field="metadata"
        )
    return value


def _version_number(value: Any, *, field: str = "version") -> int:
    if type(value) is not int or not 1 <= value <= 2**31 - 1:
        raise Invalid(f"{field} must be a version number (1 or more)", field=field)
    return value


@dataclass(frozen=True)
class ModelCreateIn:
    name: str
    description: str
    tags: dict[str, str]


def model_create_clean(data: Any) -> ModelCreateIn:
    body = json_object(data, {"name", "description", "tags"})
    if "name" not in body:
        raise Invalid("name is required", field="name")
    return ModelCreateIn(
        name=model_name_clean(body["name"]),
        description=description_clean(body.get("description")),
        tags=model_tags_clean(body.get("tags")),
    )


@dataclass(frozen=True)
class ModelUpdateIn:
    description: str | None
    tags: dict[str, str] | None


def model_update_clean(data: Any) -> ModelUpdateIn:
    body = json_object(data, {"description", "tags"})
    return ModelUpdateIn(
        description=description_clean(body["description"]) if "description" in body else None,
        tags=model_tags_clean(body["tags"]) if "tags" in body else None,
    )


@dataclass(frozen=True)
class VersionCreateIn:
    run_id: str
    path: str
    flavor: str
    metadata: dict[str, Any]
    description: str
    tags: dict[str, str]
    aliases: list[str]


def artifact_folder_clean(value: Any, *, field: str = "path") -> str:
    """A folder (or one file) of the run's artifacts, as their paths name it: "" for all
    of them, else up to 1,024 characters without ``..`` segments or a leading ``/``."""
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 1024:
        raise Invalid(f"{field} must be an artifact path of at most 1024 characters", field=field)
    if value.startswith("/") or ".." in value.split("/") or "\x00" in value:
        raise Invalid(f"{field} must not start with '/' or contain '..'", field=field)
    return value


def version_create_clean(data: Any) -> VersionCreateIn:
    body = json_object(
        data, {"run_id", "path", "flavor", "metadata", "description", "tags", "aliases"}
    )
    run_id = body.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        raise Invalid("run_id is required: the id of the run whose artifacts it is", field="run_id")
    flavor = body.get("flavor") or ""
    if not isinstance(flavor, str) or len(flavor) > FLAVOR_MAX:
        raise Invalid(f"flavor must be text of at most {FLAVOR_MAX} characters", field="flavor")
    aliases = body.get("aliases") or []
    if not isinstance(aliases, list) or len(aliases) > ALIASES_PER_VERSION_MAX:
        raise Invalid(
            f"aliases must be a list of at most {ALIASES_PER_VERSION_MAX} names", field="aliases"
        )
    return VersionCreateIn(
        run_id=run_id,
        path=artifact_folder_clean(body.get("path")),
        flavor=flavor,
        metadata=_metadata_clean(body.get("metadata")),
        description=description_clean(body.get("description")),
        tags=model_tags_clean(body.get("tags")),
        aliases=list(
            dict.fromkeys(alias_clean(a, field=f"aliases.{i}") for i, a in enumerate(aliases))
        ),
    )


@dataclass(frozen=True)
class VersionUpdateIn:
    description: str | None
    tags: dict[str, str] | None
    archived: bool | None


def version_update_clean(data: Any) -> VersionUpdateIn:
    body = json_object(data, {"description", "tags", "archived"})
    archived = body.get("archived")
    if archived is not None and type(archived) is not bool:
        raise Invalid("archived must be true or false", field="archived")
    return VersionUpdateIn(
        description=description_clean(body["description"]) if "description" in body else None,
        tags=model_tags_clean(body["tags"]) if "tags" in body else None,
        archived=archived,
    )


@dataclass(frozen=True)
class AliasSetIn:
    version: int
    reason: str


def alias_set_clean(data: Any) -> AliasSetIn:
    body = json_object(data, {"version", "reason"})
    if "version" not in body:
        raise Invalid("version is required", field="version")
    return AliasSetIn(
        version=_version_number(body["version"]), reason=reason_clean(body.get("reason"))
    )


def alias_protect_clean(data: Any) -> bool:
    body = json_object(data, {"protected"})
    protected = body.get("protected")
    if type(protected) is not bool:
        raise Invalid("protected must be true or false", field="protected")
    return protected


@dataclass(frozen=True)
class PromotionIn:
    version: int
    alias: str
    reason: str


def promotion_clean(data: Any) -> PromotionIn:
    body = json_object(data, {"version", "alias", "reason"})
    return PromotionIn(
        version=_version_number(body.get("version")),
        alias=alias_clean(body.get("alias")),
        reason=reason_clean(body.get("reason"), required=True),
    )


@dataclass(frozen=True)
class DecisionIn:
    approve: bool
    comment: str


def decision_clean(data: Any) -> DecisionIn:
    body = json_object(data, {"approve", "comment"})
    approve = body.get("approve")
    if type(approve) is not bool:
        raise Invalid("approve must be true or false", field="approve")
    return DecisionIn(approve=approve, comment=reason_clean(body.get("comment"), field="comment"))
