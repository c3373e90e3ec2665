"""Storage keys, built by the server from ids only: ``{prefix}/{project}/{run}/{uuid}``.
A client's path never becomes part of a key."""

from __future__ import annotations

import uuid

from apps.artifacts.storage import key_prefix


def storage_key(*, project_id: int, run_public_id: str, artifact_id: uuid.UUID) -> str:
    parts = [key_prefix(), str(int(project_id)), run_public_id, artifact_id.hex]
    return "/".join(part for part in parts if part)
