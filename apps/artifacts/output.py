"""How artifacts look on the wire: each output function returns a TypedDict, which
the OpenAPI schema documents (apps.core.schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, TypedDict, cast

from apps.artifacts.models import Artifact, ArtifactState
from apps.artifacts.selectors import Listing
from apps.artifacts.services import UploadPlan
from apps.artifacts.storage.base import Transfer
from apps.core.schema import OpenApi

_HEADERS = "headers to send with the request, verbatim"


class ArtifactOut(TypedDict):
    """One version of one file of a run."""

    id: str
    run_id: str
    path: Annotated[str, "the client's name for the file, folders separated by `/`"]
    version: Annotated[int | None, "1, 2… per path, given when the upload completes"]
    size: Annotated[int, "bytes"]
    sha256: Annotated[str, "hex digest"]
    content_type: str
    state: Annotated[str, ArtifactState]
    created_at: datetime
    completed_at: datetime | None


class PartOut(TypedDict):
    """Where to PUT one part of a multipart upload."""

    number: Annotated[int, "1-based"]
    size: Annotated[int, "bytes"]
    url: str
    headers: Annotated[dict[str, str], _HEADERS]


class UploadPutOut(TypedDict):
    """Upload the file with one PUT."""

    method: Annotated[str, OpenApi({"type": "string", "enum": ["put"]})]
    url: str
    headers: Annotated[dict[str, str], _HEADERS]
    expires_at: datetime


class UploadMultipartOut(TypedDict):
    """Upload the file in parts of ``part_size`` bytes (the last one smaller)."""

    method: Annotated[str, OpenApi({"type": "string", "enum": ["multipart"]})]
    part_size: int
    part_count: int
    parts: Annotated[
        list[PartOut],
        "a PUT per part once the parts' SHA-256 are declared (`parts_sha256`, or POST "
        "/artifacts/{id}/parts); empty before",
    ]
    expires_at: datetime


class ArtifactCreatedOut(ArtifactOut):
    """A declared file, pending until its upload is completed."""

    upload: UploadPutOut | UploadMultipartOut


class ArtifactPartsOut(TypedDict):
    parts: list[PartOut]
    expires_at: datetime


class ListingFolderOut(TypedDict):
    type: Literal["dir"]
    name: str
    path: str
    size: Annotated[int, "bytes of the files below it"]
    files: Annotated[int, "how many files are below it"]


class ListingFileOut(TypedDict):
    """The latest complete version of a file."""

    type: Literal["file"]
    name: Annotated[str, "the last part of its path"]
    id: str
    path: str
    version: int | None
    size: Annotated[int, "bytes"]
    sha256: str
    content_type: str
    created_at: datetime
    completed_at: datetime | None


class ArtifactListingOut(TypedDict):
    """A folder's subfolders and files, or with ``recursive`` every file below it, a
    page at a time."""

    path: Annotated[str, "the folder listed; empty for the root"]
    entries: Annotated[
        list[ListingFolderOut | ListingFileOut],
        "subfolders first (none with `recursive`), then files, in path order",
    ]
    next: Annotated[
        str | None,
        "with `recursive`: pass as `cursor` to get the next page; otherwise null",
    ]


def artifact_out(artifact: Artifact) -> ArtifactOut:
    return {
        "id": artifact.public_id,
        "run_id": artifact.run.public_id,
        "path": artifact.path,
        "version": artifact.version,
        "size": artifact.size,
        "sha256": artifact.sha256,
        "content_type": artifact.content_type,
        "state": artifact.state,
        "created_at": artifact.created_at,
        "completed_at": artifact.completed_at,
    }


def parts_out(parts: list[tuple[int, int, Transfer]]) -> list[PartOut]:
    return [
        {"number": number, "size": size, "url": transfer.url, "headers": transfer.headers}
        for number, size, transfer in parts
    ]


def upload_out(plan: UploadPlan) -> UploadPutOut | UploadMultipartOut:
    if plan.transfer is not None:
        return {
            "method": plan.method,
            "url": plan.transfer.url,
            "headers": plan.transfer.headers,
            "expires_at": plan.expires_at,
        }
    # A multipart plan always has its part size and count (services.artifact_create).
    return {
        "method": plan.method,
        "part_size": cast(int, plan.part_size),
        "part_count": cast(int, plan.part_count),
        "parts": parts_out(plan.parts or []),
        "expires_at": plan.expires_at,
    }


def listing_entry_file(artifact: Artifact) -> ListingFileOut:
    """An artifact_out without ``run_id`` and ``state`` (the listing's run; complete)."""
    return {
        "type": "file",
        "name": artifact.filename,
        "id": artifact.public_id,
        "path": artifact.path,
        "version": artifact.version,
        "size": artifact.size,
        "sha256": artifact.sha256,
        "content_type": artifact.content_type,
        "created_at": artifact.created_at,
        "completed_at": artifact.completed_at,
    }


def listing_entry_folder(name: str, path: str, size: int, files: int) -> ListingFolderOut:
    return {"type": "dir", "name": name, "path": path, "size": size, "files": files}


def artifact_listing_out(listing: Listing) -> ArtifactListingOut:
    # Deliberately not the {results, next} page of the other lists (apps.core.schema.Page):
    # a folder is answered with its path and entries of two kinds, and clients (the SDK,
    # the CLI) read these names, so the shape stays as it was first published.
    entries: list[ListingFolderOut | ListingFileOut] = [
        listing_entry_folder(*folder) for folder in listing.folders
    ]
    entries += [listing_entry_file(artifact) for artifact in listing.files]
    return {"path": listing.path, "entries": entries, "next": listing.next_cursor}
