"""Artifacts in S3: boto3 presigns, the bytes go over real HTTP to an S3 server on
127.0.0.1 (moto's server mode), never through Kiroku.

moto does not enforce presigned signatures (real S3 refuses a PUT whose length or
checksum header differs from the signed one), so a client that ignores the signed
headers gets its bytes stored here; these tests show that ``complete`` catches it.
"""

from __future__ import annotations

import hashlib

import httpx
import pytest

from apps.artifacts.cleanup import artifacts_abort_stale
from apps.artifacts.models import Artifact, ArtifactState, ReleasedObject
from apps.runs.models import Run
from apps.runs.services import run_purge_deleted
from tests.artifacts.helpers import API, declare, sha

MIB = 1024 * 1024


def keys(s3) -> list[str]:
    listed = s3.list_objects_v2(Bucket=s3.bucket).get("Contents", [])
    return sorted(item["Key"] for item in listed)


def put(upload: dict, data: bytes, headers: dict | None = None) -> httpx.Response:
    return httpx.put(
        upload["url"], content=data, headers=upload["headers"] if headers is None else headers
    )


def complete(client, artifact_id: str, body: dict | None = None):
    return client.post(f"{API}/artifacts/{artifact_id}/complete", body or {})


def test_a_file_goes_to_s3_under_a_key_built_from_ids(s3_store, as_member, run_id, project):
    data = b"model weights" * 1000
    declared = declare(as_member, run_id, "models/model.pt", data).json()
    assert declared["upload"]["url"].startswith(f"{s3_store.meta.endpoint_url}/{s3_store.bucket}/")

    assert put(declared["upload"], data).status_code == 200
    done = complete(as_member, declared["id"])

    assert done.status_code == 200, done.json()
    assert done.json()["state"] == "complete"
    assert keys(s3_store) == [f"runs/{project.pk}/{run_id}/{declared['id']}"]
    head = s3_store.head_object(Bucket=s3_store.bucket, Key=keys(s3_store)[0])
    assert head["ContentLength"] == len(data)


def test_a_download_redirects_to_a_short_lived_presigned_get(
    s3_store, as_viewer, as_member, run_id
):
    data = b"<html><script>alert(1)</script></html>"
    declared = declare(as_member, run_id, "report.html", data, content_type="text/html").json()
    put(declared["upload"], data)
    complete(as_member, declared["id"])

    redirect = as_viewer.get(f"{API}/artifacts/{declared['id']}/download")

    assert redirect.status_code == 302
    location = redirect["Location"]
    assert "X-Amz-Expires=300&" in location
    fetched = httpx.get(location)
    assert fetched.content == data
    assert fetched.headers["content-disposition"] == 'attachment; filename="report.html"'
    assert fetched.headers["content-type"] == "application/octet-stream"


def test_an_empty_file_round_trips(s3_store, as_member, run_id):
    declared = declare(as_member, run_id, "empty", b"").json()
    assert put(declared["upload"], b"").status_code == 200
    assert complete(as_member, declared["id"]).status_code == 200
    location = as_member.get(f"{API}/artifacts/{declared['id']}/download")["Location"]
    assert httpx.get(location).content == b""


def test_complete_with_nothing_uploaded_is_400(s3_store, as_member, run_id):
    declared = declare(as_member, run_id, "a.bin", b"abc").json()
    response = complete(as_member, declared["id"])
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "upload_missing",
        "message": "nothing has been uploaded for this artifact",
        "field": None,
    }


def test_more_bytes_than_declared_fail_at_complete_and_stay_pending(s3_store, as_member, run_id):
    declared = declare(as_member, run_id, "a.bin", b"abc").json()
    # A client ignoring the signed Content-Length (real S3 would refuse the PUT).
    put(declared["upload"], b"abcd", headers={"x-amz-sdk-checksum-algorithm": "SHA256"})

    response = complete(as_member, declared["id"])

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "size_mismatch",
        "message": "the uploaded object has 4 bytes; 3 were declared",
        "field": None,
    }
    assert Artifact.objects.get().state == ArtifactState.PENDING


def test_other_content_than_declared_fails_at_complete(s3_store, as_member, run_id):
    declared = declare(as_member, run_id, "a.bin", b"abc").json()
    # Same length, other bytes; the store computes the SHA-256 of what arrived.
    put(declared["upload"], b"xyz", headers={"x-amz-sdk-checksum-algorithm": "SHA256"})

    response = complete(as_member, declared["id"])

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "checksum_mismatch"
    assert Artifact.objects.get().state == ArtifactState.PENDING


def test_an_upload_without_the_checksum_header_fails_at_complete(s3_store, as_member, run_id):
    declared = declare(as_member, run_id, "a.bin", b"abc").json()
    put(declared["upload"], b"abc", headers={})
    response = complete(as_member, declared["id"])
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "checksum_mismatch"


def test_a_failed_complete_can_be_fixed_by_uploading_again(s3_store, as_member, run_id):
    declared = declare(as_member, run_id, "a.bin", b"abc").json()
    put(declared["upload"], b"xyz", headers={"x-amz-sdk-checksum-algorithm": "SHA256"})
    assert complete(as_member, declared["id"]).status_code == 400
    put(declared["upload"], b"abc")
    assert complete(as_member, declared["id"]).status_code == 200


def _multipart(client, run_id, data: bytes, settings) -> tuple[dict, list[bytes], list[dict]]:
    settings.KIROKU_ARTIFACT_MULTIPART_THRESHOLD = 5 * MIB
    declared = declare(client, run_id, "big.bin", data).json()
    size = declared["upload"]["part_size"]
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    parts = client.post(
        f"{API}/artifacts/{declared['id']}/parts", {"sha256": [sha(c) for c in chunks]}
    ).json()["parts"]
    return declared, chunks, parts


def test_a_multipart_upload_completes_with_the_part_etags(s3_store, as_member, run_id, settings):
    data = bytes(range(256)) * (17 * MIB // 256) + b"end"
    declared, chunks, parts = _multipart(as_member, run_id, data, settings)
    assert len(parts) == 3
    etags = [put(part, chunk).headers["etag"] for part, chunk in zip(parts, chunks, strict=True)]

    response = complete(
        as_member,
        declared["id"],
        {"parts": [{"number": n, "etag": e} for n, e in enumerate(etags, start=1)]},
    )

    assert response.status_code == 200, response.json()
    location = as_member.get(f"{API}/artifacts/{declared['id']}/download")["Location"]
    assert hashlib.sha256(httpx.get(location).content).hexdigest() == sha(data)


def test_a_multipart_part_with_other_content_fails_and_restarts_the_upload(
    s3_store, as_member, run_id, settings
):
    data = b"a" * (9 * MIB)
    declared, chunks, parts = _multipart(as_member, run_id, data, settings)
    etags = [
        put(parts[0], chunks[0]).headers["etag"],
        put(parts[1], b"b" * len(chunks[1]), headers={}).headers["etag"],
    ]
    body = {"parts": [{"number": n, "etag": e} for n, e in enumerate(etags, start=1)]}

    response = complete(as_member, declared["id"], body)

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "checksum_mismatch",
        "message": "the uploaded parts differ from the declared SHA-256 values; the upload "
        "was started again: upload every part anew",
        "field": None,
    }
    assert keys(s3_store) == []
    # The fresh upload accepts the right bytes.
    parts = as_member.post(
        f"{API}/artifacts/{declared['id']}/parts", {"sha256": [sha(c) for c in chunks]}
    ).json()["parts"]
    etags = [put(part, chunk).headers["etag"] for part, chunk in zip(parts, chunks, strict=True)]
    body = {"parts": [{"number": n, "etag": e} for n, e in enumerate(etags, start=1)]}
    assert complete(as_member, declared["id"], body).status_code == 200


def test_a_multipart_part_of_the_wrong_size_is_400(s3_store, as_member, run_id, settings):
    data = b"a" * (9 * MIB)
    declared, chunks, parts = _multipart(as_member, run_id, data, settings)
    etags = [put(parts[0], chunks[0][:-1], headers={}).headers["etag"], "x"]
    body = {"parts": [{"number": n, "etag": e} for n, e in enumerate(etags, start=1)]}
    response = complete(as_member, declared["id"], body)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "part 1 has 8388607 bytes; it must have 8388608"


@pytest.mark.django_db(transaction=True)
def test_purging_a_deleted_run_deletes_its_objects(s3_store, as_member, as_admin, run_id):
    declared = declare(as_member, run_id, "a.bin", b"abc").json()
    put(declared["upload"], b"abc")
    complete(as_member, declared["id"])
    assert as_admin.delete(f"{API}/runs/{run_id}").status_code == 204
    Run.objects.filter(public_id=run_id).update(deleted_at="2000-01-01T00:00:00Z")

    assert run_purge_deleted(older_than_days=1) == 1

    assert keys(s3_store) == []
    assert ReleasedObject.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_stale_multipart_uploads_are_aborted(s3_store, as_member, run_id, settings):
    _multipart(as_member, run_id, b"a" * (9 * MIB), settings)
    assert len(s3_store.list_multipart_uploads(Bucket=s3_store.bucket).get("Uploads", [])) == 1
    Artifact.objects.update(created_at="2000-01-01T00:00:00Z")

    assert artifacts_abort_stale(older_than_seconds=3600) == 1

    assert Artifact.objects.count() == 0
    assert s3_store.list_multipart_uploads(Bucket=s3_store.bucket).get("Uploads", []) == []
