"""Request bodies: a compressed body (gzip, deflate) is limited by its inflated size,
checked while inflating; an oversized declared length is refused before reading."""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc
import zlib

import pytest

from apps.core.errors import PayloadTooLarge
from apps.core.parsers import MAX_BODY_BYTES, MAX_COMPRESSED_BYTES, read_body

INFLATES_TOO_LARGE = {
    "error": {
        "code": "payload_too_large",
        "message": "request body inflates to more than 4194304 bytes (4 MiB); split the batch "
        "into smaller ones",
        "field": None,
    }
}
TOO_LARGE = {
    "error": {
        "code": "payload_too_large",
        "message": "request body is larger than 4194304 bytes (4 MiB); split the batch into "
        "smaller ones",
        "field": None,
    }
}


def batch(batch_id: str) -> bytes:
    metrics = [{"key": "loss", "value": 1.0 / (s + 1), "step": s} for s in range(100)]
    return json.dumps({"batch_id": batch_id, "metrics": metrics, "params": {"lr": 0.1}}).encode()


def post_log(api, run_id: str, body: bytes, **headers):
    return api.client.post(
        f"/api/v1/runs/{run_id}/log", data=body, content_type="application/json", **headers
    )


def points(api, run_id: str) -> list[tuple[int, float]]:
    history = api.get(f"/api/v1/runs/{run_id}/metrics/history?key=loss").json()["results"]
    return [(p["step"], p["value"]) for p in history]


def gzip_bomb(size: int) -> bytes:
    """``size`` bytes of zeros, gzip-compressed a megabyte at a time."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    parts = [compressor.compress(zeros) for _ in range(size // len(zeros))]
    return b"".join([*parts, compressor.flush()])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("GZip", gzip.compress)],
)
def test_a_compressed_batch_is_stored_as_the_plain_one(as_member, make_run, encoding, compress):
    plain_run, packed_run = make_run(name="plain"), make_run(name="packed")
    plain = post_log(as_member, plain_run, batch("b1"))
    packed = post_log(as_member, packed_run, compress(batch("b1")), HTTP_CONTENT_ENCODING=encoding)
    assert packed.status_code == 200
    assert {**packed.json(), "run_id": None} == {**plain.json(), "run_id": None}
    assert points(as_member, packed_run) == points(as_member, plain_run)
    assert len(points(as_member, plain_run)) == 100


@pytest.mark.django_db
def test_a_gzip_bomb_is_413_as_soon_as_it_inflates_past_the_limit(as_member, run_id):
    bomb = gzip_bomb(10 * 1024 * 1024)
    assert len(bomb) < 20 * 1024  # 10 MiB of zeros in about 10 KiB
    response = post_log(as_member, run_id, bomb, HTTP_CONTENT_ENCODING="gzip")
    assert (response.status_code, response.json()) == (413, INFLATES_TOO_LARGE)


def test_inflating_a_bomb_holds_at_most_about_the_limit_in_memory():
    bomb = gzip_bomb(64 * 1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge):
            read_body(io.BytesIO(bomb), encoding="gzip", declared=len(bomb))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The limit inflated once and copied once, not the 64 MiB the bomb holds.
    assert peak < 3 * MAX_BODY_BYTES


def test_a_body_inflating_to_exactly_the_limit_is_read():
    body = b" " * MAX_BODY_BYTES
    assert read_body(io.BytesIO(gzip.compress(body)), encoding="gzip", declared=None) == body


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        # mtime=0: the same bytes in every process, so the test ids match under xdist.
        (gzip.compress(b'{"batch_id": "x"}', mtime=0)[:-6], "the gzip body is truncated"),
        (b"not gzip at all", "request body is not valid gzip data"),
        (gzip.compress(b"{}", mtime=0) + b"trailing", "data follows the end of the gzip body"),
    ],
)
def test_malformed_gzip_is_400_saying_what_is_wrong(as_member, run_id, body, message):
    response = post_log(as_member, run_id, body, HTTP_CONTENT_ENCODING="gzip")
    assert (response.status_code, response.json()) == (
        400,
        {"error": {"code": "malformed_body", "message": message, "field": None}},
    )


@pytest.mark.django_db
@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, gzip", "compress"])
def test_an_unknown_encoding_is_415_naming_it(as_member, run_id, encoding):
    response = post_log(as_member, run_id, batch("b1"), HTTP_CONTENT_ENCODING=encoding)
    assert (response.status_code, response.json()) == (
        415,
        {
            "error": {
                "code": "unsupported_encoding",
                "message": f"Content-Encoding {encoding!r} is not supported; send the body as "
                "is, gzip or deflate",
                "field": None,
            }
        },
    )


@pytest.mark.django_db
def test_identity_is_the_plain_body(as_member, run_id):
    response = post_log(as_member, run_id, batch("b1"), HTTP_CONTENT_ENCODING="identity")
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("encoding", "declared"),
    [("identity", MAX_BODY_BYTES + 1), ("gzip", MAX_COMPRESSED_BYTES + 1)],
)
def test_an_oversized_content_length_is_413_before_reading(as_member, run_id, encoding, declared):
    # The test client's payload holds only these bytes: reading past them would fail,
    # so the answer proves nothing was read.
    response = post_log(
        as_member,
        run_id,
        b"{}",
        HTTP_CONTENT_ENCODING=encoding,
        CONTENT_LENGTH=str(declared),
    )
    assert (response.status_code, response.json()) == (413, TOO_LARGE)


def test_compressed_bytes_past_their_cap_are_413_even_when_they_inflate_to_nothing():
    # Empty stored blocks (as a sync flush writes them) cost reading and no output.
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = compressor.compress(b"") + compressor.flush(zlib.Z_SYNC_FLUSH)
    empty_block = b"\x00\x00\x00\xff\xff"
    body = head + empty_block * (MAX_COMPRESSED_BYTES // 5) + compressor.flush()
    assert gzip.decompress(body) == b""
    with pytest.raises(PayloadTooLarge) as refused:
        read_body(io.BytesIO(body), encoding="gzip", declared=None)
    assert refused.value.message == TOO_LARGE["error"]["message"]
