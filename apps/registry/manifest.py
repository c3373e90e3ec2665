"""A model version's manifest: every file under the version's folder of the run's
artifacts, with its size and SHA-256, and one digest over all of it, so a download can
be verified file by file and as a whole."""

from __future__ import annotations

import hashlib
import json
from typing import Any, TypedDict

from django.db.models import Q

from apps.artifacts.models import Artifact, ArtifactState
from apps.core.errors import Invalid
from apps.runs.models import Run

MANIFEST_FILES_MAX = 10_000


class ManifestEntry(TypedDict):
    path: str
    size: int
    sha256: str


def manifest_digest(entries: list[ManifestEntry]) -> str:
    """SHA-256 (hex) of the canonical JSON of the manifest: its entries sorted by path,
    keys sorted, no spaces (``separators=(",", ":")``). Clients recompute it."""
    ordered = sorted(entries, key=lambda entry: entry["path"])
    canonical = json.dumps(ordered, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def folder_artifacts(*, run: Run, path: str) -> list[Artifact]:
    """The run's latest complete artifacts under ``path`` (a folder, or one file's
    path; "" for all), by path. Raises Invalid (field ``path``) when there is none or
    a file under it is still uploading, or there are more than MANIFEST_FILES_MAX."""
    # A declared upload is not ``latest`` until it completes: look at both. The prefix
    # is compared again in Python because SQLite's LIKE ignores case.
    rows = Artifact.objects.filter(run=run).filter(Q(latest=True) | Q(state=ArtifactState.PENDING))
    if path and not path.endswith("/"):
        chosen = [a for a in rows.filter(path=path) if a.path == path]
        prefix = path + "/"
    else:
        chosen, prefix = [], path
    if not chosen:
        candidates = rows.filter(path__startswith=prefix) if prefix else rows
        chosen = [a for a in candidates if a.path.startswith(prefix)]
    artifacts = [a for a in chosen if a.state == ArtifactState.COMPLETE]
    if not artifacts:
        raise Invalid(f"the run has no artifacts under '{path or '/'}'", field="path")
    if len(artifacts) > MANIFEST_FILES_MAX:
        raise Invalid(f"a model version holds at most {MANIFEST_FILES_MAX} files", field="path")
    pending = sorted(a.path for a in chosen if a.state != ArtifactState.COMPLETE)
    if pending:
        raise Invalid(
            f"'{pending[0]}' is still uploading; register once its upload is complete",
            field="path",
        )
    return sorted(artifacts, key=lambda a: a.path)


def relative_path(artifact_path: str, folder: str) -> str:
    """The file's path inside the version: relative to the folder, or its own name
    when the version is one file."""
    if folder and artifact_path.startswith(folder.rstrip("/") + "/"):
        return artifact_path[len(folder.rstrip("/")) + 1 :]
    if folder == artifact_path:
        return artifact_path.rsplit("/", 1)[-1]
    return artifact_path


def manifest_build(artifacts: list[Artifact], *, folder: str) -> list[dict[str, Any]]:
    """The stored manifest: each file's path in the version, size, SHA-256 and the
    artifact it is (``artifact_id``, for the download)."""
    return [
        {
            "path": relative_path(a.path, folder),
            "size": a.size,
            "sha256": a.sha256,
            "artifact_id": a.public_id,
        }
        for a in artifacts
    ]


def manifest_public(manifest: list[dict[str, Any]]) -> list[ManifestEntry]:
    """The manifest as clients see it and the digest covers: path, size, SHA-256."""
    return [{"path": e["path"], "size": e["size"], "sha256": e["sha256"]} for e in manifest]
