"""Reads of artifacts, scoped to what the principal may read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from apps.accounts.principal import Principal
from apps.artifacts.models import Artifact, ArtifactState
from apps.artifacts.paths import artifact_path_clean
from apps.core.cursors import cursor_decode, cursor_encode
from apps.core.errors import Invalid, not_found
from apps.projects.access import require_role
from apps.projects.models import Role
from apps.runs.models import Run


def artifact_get_for_principal(
    *, principal: Principal, artifact_id: str, needed: Role = Role.VIEWER
) -> Artifact:
    """The artifact, or NotFound when the id is malformed, unknown, of a deleted run
    or project, or of a project the principal may not read; Forbidden when readable
    but the role is below ``needed``."""
    pk = _uuid(artifact_id)
    if pk is None:
        raise not_found("artifact")
    artifact = (
        Artifact.objects.select_related("run", "project")
        .filter(pk=pk, run__deleted_at__isnull=True, project__deleted_at__isnull=True)
        .first()
    )
    if artifact is None:
        raise not_found("artifact")
    artifact.run.project = artifact.project
    require_role(principal, artifact.project, needed, what="artifact")
    return artifact


def artifact_get_in_run(*, run: Run, artifact_id: str) -> Artifact:
    """A complete artifact of ``run`` (for pages that show one run without a role,
    such as a share link's); NotFound otherwise."""
    pk = _uuid(artifact_id)
    artifact = (
        Artifact.objects.select_related("run", "project")
        .filter(pk=pk, run=run, state=ArtifactState.COMPLETE)
        .first()
        if pk is not None
        else None
    )
    if artifact is None:
        raise not_found("artifact")
    return artifact


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(hex=value) if len(value) == 32 else None
    except ValueError:
        return None


@dataclass
class Listing:
    path: str
    files: list[Artifact] = field(default_factory=list)
    # (name, path, total size, file count) of each folder directly below ``path``
    folders: list[tuple[str, str, int, int]] = field(default_factory=list)
    next_cursor: str | None = None


CURSOR_KIND = "artifacts"


def artifact_list(
    *, run: Run, path: str, recursive: bool, page_size: int, cursor: str | None
) -> Listing:
    """The latest complete version of each file of ``run`` below folder ``path`` ("" is
    the root). Recursive listings are every file, ordered by path, a page at a time;
    otherwise the files directly in the folder and its subfolders with their totals.
    Raises Invalid for a malformed path or cursor."""
    if path:
        artifact_path_clean(path)
    prefix = f"{path}/" if path else ""
    files = Artifact.objects.filter(run=run, latest=True, state=ArtifactState.COMPLETE)
    if prefix:
        files = files.filter(path__startswith=prefix)
    files = files.order_by("path")
    listing = Listing(path=path)
    if recursive:
        if cursor:
            after = cursor_decode(cursor)
            if not isinstance(after, dict) or not isinstance(after.get(CURSOR_KIND), str):
                raise Invalid("cursor is not one of this listing's", field="cursor")
            files = files.filter(path__gt=after[CURSOR_KIND])
        page = list(files[: page_size + 1])
        listing.files = page[:page_size]
        if len(page) > page_size:
            listing.next_cursor = cursor_encode({CURSOR_KIND: listing.files[-1].path})
        return listing
    folders: dict[str, list[int]] = {}
    for artifact in files:
        rest = artifact.path[len(prefix) :]
        if "/" in rest:
            name = rest.split("/", 1)[0]
            totals = folders.setdefault(name, [0, 0])
            totals[0] += artifact.size
            totals[1] += 1
        else:
            listing.files.append(artifact)
    listing.folders = [
        (name, prefix + name, size, count) for name, (size, count) in sorted(folders.items())
    ]
    return listing
