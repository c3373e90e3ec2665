"""Uploading through the API as a client would, with the local store."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from rest_framework.test import APIClient

API = "/api/v1"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def declare(client, run_id: str, path: str, data: bytes, **extra):
    body = {"path": path, "size": len(data), "sha256": sha(data), **extra}
    return client.post(f"{API}/runs/{run_id}/artifacts", body)


def transfer_put(url: str, data: bytes, headers: dict[str, str]):
    """PUT ``data`` to a local-store transfer URL, with no credentials, as a presigned
    URL is used."""
    parts = urlsplit(url)
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    content_type = extra.pop("HTTP_CONTENT_TYPE", "application/octet-stream")
    return APIClient().put(parts.path, data, content_type=content_type, **extra)


def upload(client, run_id: str, path: str, data: bytes, **extra) -> dict:
    """Declare, send and complete a file; returns the completed artifact."""
    declared = declare(client, run_id, path, data, **extra)
    assert declared.status_code == 201, declared.json()
    body = declared.json()
    sent = transfer_put(body["upload"]["url"], data, body["upload"]["headers"])
    assert sent.status_code == 200, sent.content
    done = client.post(f"{API}/artifacts/{body['id']}/complete", {})
    assert done.status_code == 200, done.json()
    return done.json()
