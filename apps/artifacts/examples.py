"""OpenAPI examples for the artifact endpoints."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

CHECKSUM = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
ARTIFACT_ID = "3f0c5b8e9a2d4c6f8e1b7a9d0c2e4f6a"
RUN_ID = "8c1f0e2d3b4a59687766554433221100"
STORE = "https://kiroku-artifacts.s3.amazonaws.com/prod/4/" + RUN_ID + "/" + ARTIFACT_ID

ARTIFACT_BODY = {
    "id": ARTIFACT_ID,
    "run_id": RUN_ID,
    "path": "models/model.pt",
    "version": 2,
    "size": 4,
    "sha256": SHA,
    "content_type": "application/octet-stream",
    "state": "complete",
    "created_at": "2026-01-01T12:00:00Z",
    "completed_at": "2026-01-01T12:00:03Z",
}

CREATE_REQUEST = OpenApiExample(
    "declare a file",
    request_only=True,
    value={
        "path": "models/model.pt",
        "size": 4,
        "sha256": SHA,
        "content_type": "application/octet-stream",
    },
)
CREATE_RESPONSE = OpenApiExample(
    "single PUT",
    response_only=True,
    status_codes=["201"],
    value={
        **ARTIFACT_BODY,
        "version": None,
        "state": "pending",
        "completed_at": None,
        "upload": {
            "method": "put",
            "url": STORE + "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=…",
            "headers": {
                "Content-Type": "application/octet-stream",
                "x-amz-checksum-sha256": CHECKSUM,
                "x-amz-sdk-checksum-algorithm": "SHA256",
            },
            "expires_at": "2026-01-01T13:00:00Z",
        },
    },
)
ARTIFACT_RESPONSE = OpenApiExample("artifact", response_only=True, value=ARTIFACT_BODY)
LISTING_RESPONSE = OpenApiExample(
    "a folder",
    response_only=True,
    value={
        "path": "models",
        "entries": [
            {"type": "dir", "name": "ckpt", "path": "models/ckpt", "size": 4096, "files": 3},
            {
                "type": "file",
                "name": "model.pt",
                **{k: v for k, v in ARTIFACT_BODY.items() if k not in {"run_id", "state"}},
            },
        ],
        "next": None,
    },
)
PARTS_REQUEST = OpenApiExample(
    "every part's SHA-256", request_only=True, value={"sha256": [SHA, SHA], "numbers": [2]}
)
PARTS_RESPONSE = OpenApiExample(
    "part URLs",
    response_only=True,
    value={
        "parts": [
            {
                "number": 2,
                "size": 1048576,
                "url": STORE + "?uploadId=…&partNumber=2&X-Amz-Signature=…",
                "headers": {"x-amz-checksum-sha256": CHECKSUM},
            }
        ],
        "expires_at": "2026-01-01T13:00:00Z",
    },
)
COMPLETE_REQUEST = OpenApiExample(
    "multipart",
    request_only=True,
    value={"parts": [{"number": 1, "etag": '"a54357aff0632cce46d942af68356b38"'}]},
)
