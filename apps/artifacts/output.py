"""How artifacts look on the wire."""

from __future__ import annotations

from typing import Any

from apps.artifacts.models import Artifact
from apps.artifacts.services import UploadPlan
from apps.artifacts.storage.base import Transfer


def artifact_out(artifact: Artifact) -> dict[str, Any]:
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


def _transfer_out(transfer: Transfer) -> dict[str, Any]:
    return {"url": transfer.url, "headers": transfer.headers}


def parts_out(parts: list[tuple[int, int, Transfer]]) -> list[dict[str, Any]]:
    return [
        {"number": number, "size": size, **_transfer_out(transfer)}
        for number, size, transfer in parts
    ]


def upload_out(plan: UploadPlan) -> dict[str, Any]:
    if plan.transfer is not None:
        return {
            "method": plan.method,
            **_transfer_out(plan.transfer),
            "expires_at": plan.expires_at,
        }
    return {
        "method": plan.method,
        "part_size": plan.part_size,
        "part_count": plan.part_count,
        "parts": parts_out(plan.parts or []),
        "expires_at": plan.expires_at,
    }


def listing_entry_file(artifact: Artifact) -> dict[str, Any]:
    out = artifact_out(artifact)
    del out["run_id"], out["state"]
    return {"type": "file", "name": artifact.filename, **out}


def listing_entry_folder(name: str, path: str, size: int, files: int) -> dict[str, Any]:
    return {"type": "dir", "name": name, "path": path, "size": size, "files": files}
