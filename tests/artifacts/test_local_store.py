"""Uploads and downloads through the API with the local store (the embedded
default): the transfer URLs point back at the server, which streams and checks."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from apps.artifacts.models import Artifact, ArtifactState
from apps.audit.models import AuditEvent
from tests.artifacts.helpers import API, declare, sha, transfer_put, upload

MIB = 1024 * 1024


def stored_files() -> list[Path]:
    root = Path(settings.KIROKU_ARTIFACT_STORE["root"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def download(client, artifact_id: str, **params):
    """Follow the download redirect without credentials, as a browser or the SDK does."""
    redirect = client.get(f"{API}/artifacts/{artifact_id}/download", params)
    assert redirect.status_code == 302, redirect.content
    location = urlsplit(redirect["Location"])
    return APIClient().get(location.path)


def test_a_small_file_uploads_and_downloads_byte_for_byte(as_member, run_id):
    data = b"weights\x00\x01\x02" * 100
    done = upload(as_member, run_id, "models/model.pt", data)

    assert done["state"] == "complete"
    assert done["version"] == 1
    assert done["size"] == len(data)
    served = download(as_member, done["id"])
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == data
    assert served["Content-Disposition"] == 'attachment; filename="model.pt"'
    assert served["X-Content-Type-Options"] == "nosniff"


def test_an_empty_file_uploads_and_downloads(as_member, run_id):
    done = upload(as_member, run_id, "empty.txt", b"", content_type="text/plain")
    served = download(as_member, done["id"])
    assert (done["size"], b"".join(served.streaming_content)) == (0, b"")


def test_the_store_key_is_built_from_ids_not_the_client_path(as_member, run_id, project):
    done = upload(as_member, run_id, "secret/../../x.bin".replace("../../", "up/"), b"abc")
    [stored] = stored_files()
    assert stored.relative_to(settings.KIROKU_ARTIFACT_STORE["root"]).as_posix() == (
        f"{project.pk}/{run_id}/{done['id']}"
    )


def test_uploading_to_an_existing_path_makes_a_new_version(as_member, run_id):
    first = upload(as_member, run_id, "model.pt", b"one")
    second = upload(as_member, run_id, "model.pt", b"two")

    assert (first["version"], second["version"]) == (1, 2)
    listed = as_member.get(f"{API}/runs/{run_id}/artifacts").json()["entries"]
    assert [(e["path"], e["version"], e["id"]) for e in listed] == [("model.pt", 2, second["id"])]
    assert b"".join(download(as_member, first["id"]).streaming_content) == b"one"


def test_a_put_with_other_bytes_is_refused_and_nothing_is_stored(as_member, run_id):
    declared = declare(as_member, run_id, "a.bin", b"declared").json()
    sent = transfer_put(declared["upload"]["url"], b"DECLARED", declared["upload"]["headers"])

    assert sent.status_code == 400
    assert sent.json()["error"]["code"] == "checksum_mismatch"
    assert stored_files() == []
    done = as_member.post(f"{API}/artifacts/{declared['id']}/complete", {})
    assert done.status_code == 400
    assert done.json()["error"]["code"] == "upload_missing"
    assert Artifact.objects.get().state == ArtifactState.PENDING


def test_a_put_with_more_bytes_than_declared_is_refused(as_member, run_id):
    declared = declare(as_member, run_id, "a.bin", b"1234").json()
    sent = transfer_put(declared["upload"]["url"], b"12345", declared["upload"]["headers"])
    assert sent.status_code == 400
    assert sent.json()["error"] == {
        "code": "size_mismatch",
        "message": "Content-Length must be 4, the declared size",
        "field": None,
    }
    assert stored_files() == []


def test_complete_before_any_upload_is_400_and_stays_pending(as_member, run_id):
    declared = declare(as_member, run_id, "a.bin", b"1234").json()
    done = as_member.post(f"{API}/artifacts/{declared['id']}/complete", {})
    assert done.status_code == 400
    assert done.json()["error"]["code"] == "upload_missing"
    assert as_member.get(f"{API}/artifacts/{declared['id']}").json()["state"] == "pending"


def test_complete_twice_answers_the_same_artifact(as_member, run_id):
    done = upload(as_member, run_id, "a.bin", b"1234")
    again = as_member.post(f"{API}/artifacts/{done['id']}/complete", {})
    assert again.status_code == 200
    assert again.json() == done


def test_a_transfer_link_cannot_be_altered(as_member, run_id):
    declared = declare(as_member, run_id, "a.bin", b"1234").json()
    url = declared["upload"]["url"]
    forged = url[:-3] + ("aaa" if not url.endswith("aaa") else "bbb")
    sent = transfer_put(forged, b"1234", {})
    assert sent.status_code == 403
    assert sent.json()["error"]["code"] == "link_invalid"


def test_an_expired_transfer_link_is_refused(as_member, run_id, settings):
    settings.KIROKU_ARTIFACT_UPLOAD_EXPIRY_SECONDS = -5
    declared = declare(as_member, run_id, "a.bin", b"1234").json()
    sent = transfer_put(declared["upload"]["url"], b"1234", {})
    assert sent.status_code == 403
    assert sent.json()["error"]["message"] == "the transfer link has expired"


def test_a_download_link_cannot_upload(as_member, run_id):
    done = upload(as_member, run_id, "a.bin", b"1234")
    location = as_member.get(f"{API}/artifacts/{done['id']}/download")["Location"]
    sent = transfer_put(location, b"5678", {})
    assert sent.status_code == 403
    assert b"".join(download(as_member, done["id"]).streaming_content) == b"1234"


def test_an_upload_link_stops_working_once_the_artifact_is_complete(as_member, run_id):
    declared = declare(as_member, run_id, "a.bin", b"1234").json()
    assert transfer_put(declared["upload"]["url"], b"1234", {}).status_code == 200
    as_member.post(f"{API}/artifacts/{declared['id']}/complete", {})
    assert transfer_put(declared["upload"]["url"], b"1234", {}).status_code == 404


@pytest.mark.parametrize(
    ("content_type", "inline", "served_type", "disposition"),
    [
        ("text/html", False, "application/octet-stream", "attachment"),
        ("text/html", True, "application/octet-stream", "attachment"),
        ("image/svg+xml", True, "application/octet-stream", "attachment"),
        ("application/x-ipynb+json", True, "application/octet-stream", "attachment"),
        ("image/png", True, "image/png", "inline"),
        ("text/csv", True, "text/plain; charset=utf-8", "inline"),
        ("image/png", False, "image/png", "attachment"),
    ],
)
def test_active_content_is_never_served_inline(
    as_member, run_id, content_type, inline, served_type, disposition
):
    done = upload(
        as_member, run_id, "page", b"<script>alert(1)</script>", content_type=content_type
    )
    served = download(as_member, done["id"], inline="true" if inline else "false")
    assert served["Content-Type"] == served_type
    assert served["Content-Disposition"] == f'{disposition}; filename="page"'
    assert served["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_a_multipart_upload_assembles_its_parts(as_member, run_id, settings):
    settings.KIROKU_ARTIFACT_MULTIPART_THRESHOLD = 5 * MIB
    data = bytes(range(256)) * (9 * MIB // 256) + b"tail"
    declared = declare(as_member, run_id, "big.bin", data).json()
    assert declared["upload"]["method"] == "multipart"
    assert (declared["upload"]["part_size"], declared["upload"]["part_count"]) == (8 * MIB, 2)
    chunks = [data[: 8 * MIB], data[8 * MIB :]]
    parts = as_member.post(
        f"{API}/artifacts/{declared['id']}/parts", {"sha256": [sha(c) for c in chunks]}
    ).json()["parts"]
    assert [(p["number"], p["size"]) for p in parts] == [(1, 8 * MIB), (2, len(chunks[1]))]
    etags = [
        transfer_put(p["url"], c, p["headers"])["ETag"] for p, c in zip(parts, chunks, strict=True)
    ]

    done = as_member.post(
        f"{API}/artifacts/{declared['id']}/complete",
        {"parts": [{"number": n, "etag": e} for n, e in enumerate(etags, start=1)]},
    )

    assert done.status_code == 200, done.json()
    assert b"".join(download(as_member, declared["id"]).streaming_content) == data


def _two_part_upload(client, run_id, settings):
    settings.KIROKU_ARTIFACT_MULTIPART_THRESHOLD = 5 * MIB
    data = b"x" * (9 * MIB)
    declared = declare(client, run_id, "big.bin", data).json()
    chunks = [data[: 8 * MIB], data[8 * MIB :]]
    parts = client.post(
        f"{API}/artifacts/{declared['id']}/parts", {"sha256": [sha(c) for c in chunks]}
    ).json()["parts"]
    return declared["id"], parts, chunks


def test_a_multipart_complete_with_a_wrong_etag_is_400(as_member, run_id, settings):
    artifact_id, parts, chunks = _two_part_upload(as_member, run_id, settings)
    etags = [transfer_put(p["url"], c, {})["ETag"] for p, c in zip(parts, chunks, strict=True)]
    done = as_member.post(
        f"{API}/artifacts/{artifact_id}/complete",
        {"parts": [{"number": 1, "etag": '"nope"'}, {"number": 2, "etag": etags[1]}]},
    )
    assert done.status_code == 400
    assert done.json()["error"] == {
        "code": "parts_mismatch",
        "message": "the ETag given for part 1 is not the uploaded one",
        "field": None,
    }
    assert Artifact.objects.get().state == ArtifactState.PENDING


def test_a_multipart_complete_with_a_part_missing_is_400(as_member, run_id, settings):
    artifact_id, parts, chunks = _two_part_upload(as_member, run_id, settings)
    etag = transfer_put(parts[0]["url"], chunks[0], {})["ETag"]
    done = as_member.post(
        f"{API}/artifacts/{artifact_id}/complete",
        {"parts": [{"number": 1, "etag": etag}, {"number": 2, "etag": etag}]},
    )
    assert done.status_code == 400
    assert done.json()["error"]["message"] == "part 2 has not been uploaded"
    assert Artifact.objects.get().state == ArtifactState.PENDING


def test_the_quota_counts_pending_uploads_and_answers_413(as_member, run_id, settings):
    settings.KIROKU_ARTIFACT_QUOTA_BYTES = 10
    assert declare(as_member, run_id, "a.bin", b"123456").status_code == 201
    refused = declare(as_member, run_id, "b.bin", b"12345")
    assert refused.status_code == 413
    assert refused.json()["error"] == {
        "code": "quota_exceeded",
        "message": "project 'vision' would hold 11 bytes of artifacts; its quota is 10 bytes "
        "(6 used, pending uploads included)",
        "field": "size",
    }
    assert Artifact.objects.count() == 1


def test_each_step_is_in_the_audit_log(as_member, run_id):
    done = upload(as_member, run_id, "a.bin", b"1234")
    download(as_member, done["id"])
    events = AuditEvent.objects.filter(target_type="artifact").order_by("pk")
    assert [(e.action, e.target_id, e.target_label) for e in events] == [
        ("artifact.create", done["id"], "a.bin"),
        ("artifact.complete", done["id"], "a.bin"),
        ("artifact.download", done["id"], "a.bin"),
    ]


def test_deleting_an_artifact_removes_its_file_and_shows_the_previous_version(
    as_member, as_admin, run_id, django_capture_on_commit_callbacks
):
    first = upload(as_member, run_id, "model.pt", b"one")
    second = upload(as_member, run_id, "model.pt", b"two")

    with django_capture_on_commit_callbacks(execute=True):
        assert as_admin.delete(f"{API}/artifacts/{second['id']}").status_code == 204

    listed = as_member.get(f"{API}/runs/{run_id}/artifacts").json()["entries"]
    assert [(e["id"], e["version"]) for e in listed] == [(first["id"], 1)]
    assert [p.name for p in stored_files()] == [first["id"]]
    assert AuditEvent.objects.filter(action="artifact.delete", target_id=second["id"]).exists()
