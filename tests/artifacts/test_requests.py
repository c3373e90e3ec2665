"""What a declaration must hold, and the listing's shape."""

from __future__ import annotations

import pytest

from apps.artifacts.models import Artifact
from apps.artifacts.validation import part_size_for
from tests.artifacts.helpers import API, sha, upload

MIB = 1024 * 1024
GOOD = {"path": "a.bin", "size": 3, "sha256": sha(b"abc")}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"size": -1}, "size", "size must be an integer from 0 to 5497558138880 (5 TiB)"),
        (
            {"size": 5 * 1024**4 + 1},
            "size",
            "size must be an integer from 0 to 5497558138880 (5 TiB)",
        ),
        ({"size": 1.5}, "size", "size must be an integer from 0 to 5497558138880 (5 TiB)"),
        ({"size": True}, "size", "size must be an integer from 0 to 5497558138880 (5 TiB)"),
        ({"sha256": "abc"}, "sha256", "sha256 must be a SHA-256 digest: 64 hexadecimal characters"),
        (
            {"sha256": "g" * 64},
            "sha256",
            "sha256 must be a SHA-256 digest: 64 hexadecimal characters",
        ),
        (
            {"content_type": "text/html\r\nX-Evil: 1"},
            "content_type",
            "content_type must be a media type like text/csv (optionally '; charset=...'), "
            "at most 255 characters",
        ),
        (
            {"owner": "me"},
            "owner",
            "unknown field 'owner'; allowed: content_type, parts_sha256, path, sha256, size",
        ),
        (
            {"parts_sha256": []},
            "parts_sha256",
            "parts_sha256 must be a non-empty list of SHA-256 digests",
        ),
        (
            {"parts_sha256": ["x"]},
            "parts_sha256[0]",
            "parts_sha256[0] must be a SHA-256 digest: 64 hexadecimal characters",
        ),
    ],
)
def test_a_bad_declaration_names_the_field_and_limit(as_member, run_id, change, field, message):
    response = as_member.post(f"{API}/runs/{run_id}/artifacts", {**GOOD, **change})
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "invalid", "message": message, "field": field}}
    assert Artifact.objects.count() == 0


@pytest.mark.parametrize("missing", ["path", "size", "sha256"])
def test_each_required_field_is_named_when_missing(as_member, run_id, missing):
    body = {k: v for k, v in GOOD.items() if k != missing}
    response = as_member.post(f"{API}/runs/{run_id}/artifacts", body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == missing


def test_an_uppercase_digest_is_accepted_and_stored_lowercase(as_member, run_id):
    response = as_member.post(
        f"{API}/runs/{run_id}/artifacts", {**GOOD, "sha256": GOOD["sha256"].upper()}
    )
    assert response.status_code == 201
    assert response.json()["sha256"] == GOOD["sha256"]
    assert Artifact.objects.get(pk=response.json()["id"]).sha256 == GOOD["sha256"]


@pytest.mark.parametrize(
    ("size", "part_size"),
    [
        (64 * MIB + 1, 8 * MIB),
        (80_000 * MIB, 8 * MIB),
        (80_000 * MIB + 1, 9 * MIB),
        (5 * 1024**4, 525 * MIB),
    ],
)
def test_the_part_size_keeps_every_upload_within_10000_parts(size, part_size):
    assert part_size_for(size) == part_size
    assert -(-size // part_size) <= 10_000


def test_a_large_declaration_gets_a_multipart_plan(as_member, run_id):
    size = 100 * MIB
    response = as_member.post(
        f"{API}/runs/{run_id}/artifacts", {"path": "big.bin", "size": size, "sha256": "0" * 64}
    )
    assert response.status_code == 201
    upload_plan = response.json()["upload"]
    assert {k: upload_plan[k] for k in ("method", "part_size", "part_count", "parts")} == {
        "method": "multipart",
        "part_size": 8 * MIB,
        "part_count": 13,
        "parts": [],
    }


def test_parts_must_be_declared_one_per_part(as_member, run_id):
    declared = as_member.post(
        f"{API}/runs/{run_id}/artifacts",
        {"path": "big.bin", "size": 100 * MIB, "sha256": "0" * 64},
    ).json()
    response = as_member.post(f"{API}/artifacts/{declared['id']}/parts", {"sha256": ["0" * 64]})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid",
        "message": "sha256 must hold 13 digests, one per part",
        "field": "sha256",
    }


def test_a_single_put_artifact_has_no_parts(as_member, run_id):
    declared = as_member.post(f"{API}/runs/{run_id}/artifacts", GOOD).json()
    response = as_member.post(f"{API}/artifacts/{declared['id']}/parts", {"sha256": ["0" * 64]})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "this artifact is uploaded with a single PUT, not in parts"
    )


def test_the_listing_shows_folders_with_totals_and_the_files_at_that_level(as_member, run_id):
    upload(as_member, run_id, "README.md", b"hello")
    upload(as_member, run_id, "ckpt/epoch1.pt", b"1" * 10)
    upload(as_member, run_id, "ckpt/epoch2.pt", b"2" * 20)
    upload(as_member, run_id, "ckpt/best/model.pt", b"3" * 30)

    root = as_member.get(f"{API}/runs/{run_id}/artifacts").json()
    assert [(e["type"], e["path"], e["size"]) for e in root["entries"]] == [
        ("dir", "ckpt", 60),
        ("file", "README.md", 5),
    ]
    assert root["entries"][0]["files"] == 3
    inner = as_member.get(f"{API}/runs/{run_id}/artifacts", {"path": "ckpt"}).json()
    assert [(e["type"], e["name"]) for e in inner["entries"]] == [
        ("dir", "best"),
        ("file", "epoch1.pt"),
        ("file", "epoch2.pt"),
    ]


def test_a_recursive_listing_pages_through_every_file(as_member, run_id):
    for name in ("a", "b/c", "b/d", "e"):
        upload(as_member, run_id, name, name.encode())
    seen, cursor = [], None
    while True:
        params = {"recursive": "true", "page_size": 3, **({"cursor": cursor} if cursor else {})}
        page = as_member.get(f"{API}/runs/{run_id}/artifacts", params).json()
        seen.append([e["path"] for e in page["entries"]])
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [["a", "b/c", "b/d"], ["e"]]


def test_pending_uploads_are_not_listed(as_member, run_id):
    as_member.post(f"{API}/runs/{run_id}/artifacts", GOOD)
    listing = as_member.get(f"{API}/runs/{run_id}/artifacts").json()
    assert listing == {"path": "", "entries": [], "next": None}


def test_downloading_a_pending_artifact_is_409(as_member, run_id):
    declared = as_member.post(f"{API}/runs/{run_id}/artifacts", GOOD).json()
    response = as_member.get(f"{API}/artifacts/{declared['id']}/download")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "upload_pending"
