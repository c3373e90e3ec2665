"""Example answers of the registry's API, for the OpenAPI schema's docs."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample

MODEL: dict[str, Any] = {
    "name": "resnet",
    "description": "Image classifier",
    "description_html": "<p>Image classifier</p>",
    "tags": {"task": "classification"},
    "latest_version": 3,
    "aliases": {"champion": 2, "staging": 3},
    "created_by": "alice",
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-03T00:00:00Z",
}
MANIFEST = [{"path": "model.pt", "size": 1048576, "sha256": "9f86d081884c7d65…"}]
VERSION: dict[str, Any] = {
    "model": "resnet",
    "version": 3,
    "run_id": "9f1c2e4b7a5d4c3b",
    "path": "models/resnet/",
    "status": "READY",
    "flavor": "pytorch",
    "metadata": {"input_shape": [3, 224, 224]},
    "description": "",
    "tags": {},
    "aliases": ["staging"],
    "manifest": MANIFEST,
    "manifest_digest": "4c1a…",
    "archived": False,
    "created_by": "alice",
    "created_at": "2026-01-03T00:00:00Z",
}
VERSION_WITH_LINEAGE: dict[str, Any] = {
    **VERSION,
    "lineage": {
        "run": {
            "id": "9f1c2e4b7a5d4c3b",
            "name": "resnet-lr3e-4",
            "status": "FINISHED",
            "url": "https://kiroku.example.com/projects/vision/runs/9f1c2e4b7a5d4c3b",
            "git": {"commit": "a1b2c3d", "branch": "main", "remote": "", "dirty": False},
            "params": {"lr": "0.0003"},
            "metrics": {"val/acc": 0.91},
            "datasets": [{"name": "train", "uri": "s3://data/train", "digest": "sha256:…"}],
            "ci_verdict": "passed",
            "parent_id": None,
            "group": "",
        }
    },
}
ALIAS = {
    "alias": "champion",
    "version": 2,
    "protected": True,
    "updated_by": "admin",
    "updated_at": "2026-01-02T00:00:00Z",
}
PROMOTION = {
    "id": 7,
    "model": "resnet",
    "version": 3,
    "alias": "champion",
    "reason": "+1.2 points of val/acc on the same data",
    "status": "open",
    "requested_by": "bob",
    "created_at": "2026-01-03T00:00:00Z",
    "decided_by": None,
    "decided_at": None,
    "decision_comment": "",
}
FILES = {
    "manifest": MANIFEST,
    "manifest_digest": "4c1a…",
    "files": [{**MANIFEST[0], "url": "https://bucket.s3.amazonaws.com/…?X-Amz-Signature=…"}],
}


def answer(name: str, value: Any) -> list[OpenApiExample]:
    return [OpenApiExample(name, value=value, response_only=True)]


def page(name: str, item: Any) -> list[OpenApiExample]:
    return answer(name, {"results": [item], "next": None})
