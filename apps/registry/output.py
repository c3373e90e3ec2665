"""How the model registry looks on the wire: each output function returns a TypedDict,
which the OpenAPI schema documents (apps.core.schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, NotRequired, TypedDict

from apps.core.floats import float_out
from apps.core.markdown import markdown_render
from apps.core.schema import WireFloat
from apps.registry.manifest import ManifestEntry, manifest_public
from apps.registry.models import (
    ModelAlias,
    ModelVersion,
    PromotionRequest,
    PromotionStatus,
    RegisteredModel,
    VersionStatus,
)
from apps.registry.selectors import Lineage
from apps.runs.links import run_url


def _username(user: Any) -> str | None:
    return user.username if user is not None else None


class ModelOut(TypedDict):
    """A registered model."""

    name: str
    description: Annotated[str, "markdown"]
    description_html: Annotated[str, "the description rendered and sanitised"]
    tags: dict[str, str]
    latest_version: Annotated[int | None, "the highest version number; null before the first"]
    aliases: Annotated[dict[str, int], "alias → version number"]
    created_by: str | None
    created_at: datetime
    updated_at: datetime


def model_out(model: RegisteredModel) -> ModelOut:
    return {
        "name": model.name,
        "description": model.description,
        "description_html": str(markdown_render(model.description)),
        "tags": model.tags,
        "latest_version": model.last_version or None,
        "aliases": {
            alias.name: alias.version.number
            for alias in model.aliases.all()
            if alias.version is not None
        },
        "created_by": _username(model.created_by),
        "created_at": model.created_at,
        "updated_at": model.updated_at,
    }


class LineageRunOut(TypedDict):
    id: str
    name: str
    status: str
    url: str
    git: Annotated[dict[str, Any], "commit, branch, remote, dirty"]
    params: dict[str, str]
    metrics: Annotated[dict[str, WireFloat], "each metric's last value"]
    datasets: Annotated[list[dict[str, Any]], "name, uri, digest"]
    ci_verdict: Annotated[str | None, "`passed`, `regressed`, `no_baseline`; null without CI"]
    parent_id: str | None
    group: str


class LineageOut(TypedDict):
    run: LineageRunOut


class VersionOut(TypedDict):
    """One version of a registered model."""

    model: str
    version: int
    run_id: Annotated[str, "the source run"]
    path: Annotated[str, "the folder of the run's artifacts it holds (empty: all of them)"]
    status: Annotated[str, VersionStatus]
    flavor: str
    metadata: dict[str, Any]
    description: str
    tags: dict[str, str]
    aliases: list[str]
    manifest: Annotated[list[ManifestEntry], "every file: path in the version, size, SHA-256"]
    manifest_digest: Annotated[str, "SHA-256 of the manifest's canonical JSON (see README)"]
    archived: bool
    created_by: str | None
    created_at: datetime
    lineage: NotRequired[Annotated[LineageOut, "one version's answer only"]]


def lineage_out(lineage: Lineage) -> LineageOut:
    run = lineage.run
    return {
        "run": {
            "id": run.public_id,
            "name": run.name,
            "status": run.status,
            "url": run_url(run),
            "git": {
                "commit": run.git_commit,
                "branch": run.git_branch,
                "remote": run.git_remote,
                "dirty": run.git_dirty,
            },
            "params": lineage.params,
            "metrics": {
                key: float_out(value) if value is not None else "NaN"
                for key, value in lineage.metrics.items()
            },
            "datasets": lineage.datasets,
            "ci_verdict": lineage.ci_verdict,
            "parent_id": run.parent.public_id if run.parent is not None else None,
            "group": run.group,
        }
    }


def version_out(version: ModelVersion, lineage: Lineage | None = None) -> VersionOut:
    body: VersionOut = {
        "model": version.model.name,
        "version": version.number,
        "run_id": version.run.public_id,
        "path": version.path,
        "status": version.status,
        "flavor": version.flavor,
        "metadata": version.metadata,
        "description": version.description,
        "tags": version.tags,
        "aliases": sorted(alias.name for alias in version.aliases.all()),
        "manifest": manifest_public(version.manifest),
        "manifest_digest": version.manifest_digest,
        "archived": version.archived_at is not None,
        "created_by": _username(version.created_by),
        "created_at": version.created_at,
    }
    if lineage is not None:
        body["lineage"] = lineage_out(lineage)
    return body


class FileOut(TypedDict):
    path: str
    size: int
    sha256: str
    url: Annotated[str, "a short-lived URL serving the bytes"]


class VersionFilesOut(TypedDict):
    """A version's files: its manifest and where to download each file."""

    manifest: list[ManifestEntry]
    manifest_digest: str
    files: list[FileOut]


def version_files_out(
    version: ModelVersion, files: list[tuple[dict[str, Any], str]]
) -> VersionFilesOut:
    return {
        "manifest": manifest_public(version.manifest),
        "manifest_digest": version.manifest_digest,
        "files": [
            {"path": e["path"], "size": e["size"], "sha256": e["sha256"], "url": url}
            for e, url in files
        ],
    }


class AliasOut(TypedDict):
    alias: str
    version: Annotated[int | None, "null: a protected alias that points nowhere yet"]
    protected: Annotated[bool, "only admins move it; members open promotion requests"]
    updated_by: str | None
    updated_at: datetime


def alias_out(alias: ModelAlias) -> AliasOut:
    return {
        "alias": alias.name,
        "version": alias.version.number if alias.version is not None else None,
        "protected": alias.protected,
        "updated_by": _username(alias.updated_by),
        "updated_at": alias.updated_at,
    }


class PromotionOut(TypedDict):
    """A request to point an alias at a version."""

    id: int
    model: str
    version: int
    alias: str
    reason: str
    status: Annotated[str, PromotionStatus]
    requested_by: str | None
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_comment: str


def promotion_out(request: PromotionRequest) -> PromotionOut:
    return {
        "id": request.pk,
        "model": request.model.name,
        "version": request.version.number,
        "alias": request.alias,
        "reason": request.reason,
        "status": request.status,
        "requested_by": _username(request.requested_by),
        "created_at": request.created_at,
        "decided_by": _username(request.decided_by),
        "decided_at": request.decided_at,
        "decision_comment": request.decision_comment,
    }
