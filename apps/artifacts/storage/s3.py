"""Kiroku's one S3 wrapper: presigned transfers and the checks at completion.

Any S3-compatible endpoint works (``AWS_ENDPOINT_URL``); credentials come from
boto3's usual chain (environment, shared files, instance role). Presigned PUTs sign
the content length and the SHA-256 checksum headers, so S3 itself refuses more,
fewer or other bytes than declared; completion checks again with HeadObject, so a
store that does not enforce signatures still cannot complete a wrong object.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.utils import timezone
from django.utils.http import content_disposition_header

from apps.artifacts.storage.base import (
    Download,
    Store,
    StoreUnavailable,
    Transfer,
    UploadProblem,
    composite_sha256_b64,
    part_sizes,
    sha256_b64,
)
from apps.core.health import CheckFailed

logger = logging.getLogger(__name__)

LIST_PARTS_PAGE = 1000
DELETE_BATCH = 1000


@functools.cache
def s3_client(endpoint_url: str | None, region: str) -> Any:
    """One boto3 client per endpoint and region (boto3 clients are thread-safe)."""
    config = Config(
        signature_version="s3v4",
        connect_timeout=5,
        read_timeout=30,
        retries={"max_attempts": 3, "mode": "standard"},
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name=region, config=config
    )


def _seconds_until(expires_at: datetime) -> int:
    return max(1, round((expires_at - timezone.now()).total_seconds()))


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _strip_parts_suffix(checksum: str | None) -> str | None:
    """``abc=-13`` (a composite checksum with its part count) → ``abc=``."""
    if checksum and "-" in checksum:
        return checksum.rsplit("-", 1)[0]
    return checksum


class S3Store(Store):
    def __init__(self, *, bucket: str, endpoint_url: str | None, region: str) -> None:
        self.bucket = bucket
        self.client = s3_client(endpoint_url, region)

    def _call(self, operation: str, **params: Any) -> Any:
        try:
            return getattr(self.client, operation)(Bucket=self.bucket, **params)
        except BotoCoreError as exc:  # network trouble, credentials missing...
            raise StoreUnavailable(f"S3 {operation} failed: {exc}") from exc

    def _presign(self, operation: str, expires_at: datetime, **params: Any) -> str:
        try:
            return self.client.generate_presigned_url(
                operation,
                Params={"Bucket": self.bucket, **params},
                ExpiresIn=_seconds_until(expires_at),
            )
        except BotoCoreError as exc:
            raise StoreUnavailable(f"S3 presigning failed: {exc}") from exc

    def put_transfer(self, *, key, size, sha256, content_type, expires_at, base_url) -> Transfer:
        checksum = sha256_b64(sha256)
        url = self._presign(
            "put_object",
            expires_at,
            Key=key,
            ContentLength=size,
            ContentType=content_type,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=checksum,
        )
        headers = {
            "Content-Type": content_type,
            "x-amz-checksum-sha256": checksum,
            "x-amz-sdk-checksum-algorithm": "SHA256",
        }
        return Transfer(url, headers)

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return self._call("head_object", Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            if _error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise StoreUnavailable(f"S3 HeadObject failed: {exc}") from exc

    def put_verify(self, *, key, size, sha256) -> None:
        head = self._head(key)
        if head is None:
            raise UploadProblem("upload_missing", "nothing has been uploaded for this artifact")
        if head["ContentLength"] != size:
            raise UploadProblem(
                "size_mismatch",
                f"the uploaded object has {head['ContentLength']} bytes; {size} were declared",
            )
        if head.get("ChecksumSHA256") != sha256_b64(sha256):
            raise UploadProblem(
                "checksum_mismatch",
                "the uploaded object's SHA-256 is missing or differs from the declared sha256",
            )

    def multipart_start(self, *, key, content_type) -> str:
        try:
            answer = self._call(
                "create_multipart_upload",
                Key=key,
                ContentType=content_type,
                ChecksumAlgorithm="SHA256",
            )
        except ClientError as exc:
            raise StoreUnavailable(f"S3 CreateMultipartUpload failed: {exc}") from exc
        return str(answer["UploadId"])

    def part_transfer(
        self, *, key, upload_id, number, size, sha256, expires_at, base_url
    ) -> Transfer:
        checksum = sha256_b64(sha256)
        url = self._presign(
            "upload_part",
            expires_at,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            ContentLength=size,
            ChecksumSHA256=checksum,
        )
        return Transfer(url, {"x-amz-checksum-sha256": checksum})

    def _uploaded_parts(self, key: str, upload_id: str) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        marker = 0
        while True:
            try:
                page = self._call(
                    "list_parts",
                    Key=key,
                    UploadId=upload_id,
                    MaxParts=LIST_PARTS_PAGE,
                    PartNumberMarker=marker,
                )
            except ClientError as exc:
                if _error_code(exc) == "NoSuchUpload":
                    raise UploadProblem(
                        "upload_missing", "the multipart upload is gone (aborted or completed)"
                    ) from exc
                raise StoreUnavailable(f"S3 ListParts failed: {exc}") from exc
            for part in page.get("Parts", []):
                found[int(part["PartNumber"])] = part
            if not page.get("IsTruncated"):
                return found
            marker = int(page["NextPartNumberMarker"])

    def multipart_complete(
        self, *, key, upload_id, size, part_size, parts_sha256, parts, sha256
    ) -> None:
        # S3 cannot hash a multipart object whole; the per-part SHA-256 values are
        # what it verifies, and the composite checksum proves they are the uploaded ones.
        expected_sizes = part_sizes(size, part_size)
        uploaded = self._uploaded_parts(key, upload_id)
        for number, expected in enumerate(expected_sizes, start=1):
            part = uploaded.get(number)
            if part is None:
                raise UploadProblem("parts_mismatch", f"part {number} has not been uploaded")
            if part["Size"] != expected:
                raise UploadProblem(
                    "size_mismatch",
                    f"part {number} has {part['Size']} bytes; it must have {expected}",
                )
            declared = sha256_b64(parts_sha256[number - 1])
            # Real S3 lists each part's checksum; a store that does not is checked
            # through the composite checksum below.
            if part.get("ChecksumSHA256") not in (None, declared):
                raise UploadProblem(
                    "checksum_mismatch", f"part {number}'s SHA-256 differs from the declared one"
                )
        etags = {done.number: done.etag for done in parts}
        for number in range(1, len(expected_sizes) + 1):
            if etags.get(number, "").strip('"') != str(uploaded[number]["ETag"]).strip('"'):
                raise UploadProblem(
                    "parts_mismatch", f"the ETag given for part {number} is not the uploaded one"
                )
        if len(uploaded) > len(expected_sizes):
            extra = sorted(set(uploaded) - set(range(1, len(expected_sizes) + 1)))
            raise UploadProblem("parts_mismatch", f"unexpected parts were uploaded: {extra}")
        listing = [
            {
                "PartNumber": number,
                "ETag": uploaded[number]["ETag"],
                "ChecksumSHA256": sha256_b64(parts_sha256[number - 1]),
            }
            for number in range(1, len(expected_sizes) + 1)
        ]
        try:
            self._call(
                "complete_multipart_upload",
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": listing},
            )
        except ClientError as exc:
            if _error_code(exc) in {"InvalidPart", "InvalidPartOrder", "BadDigest"}:
                raise UploadProblem("parts_mismatch", f"S3 refused the parts: {exc}") from exc
            raise StoreUnavailable(f"S3 CompleteMultipartUpload failed: {exc}") from exc
        head = self._head(key)
        problem = None
        if head is None or head["ContentLength"] != size:
            problem = UploadProblem("size_mismatch", "the assembled object has the wrong size")
        elif _strip_parts_suffix(head.get("ChecksumSHA256")) != composite_sha256_b64(parts_sha256):
            problem = UploadProblem(
                "checksum_mismatch", "the uploaded parts differ from the declared SHA-256 values"
            )
        if problem is not None:
            self.delete(key=key)
            problem.restarted = True
            raise problem

    def download_url(self, *, key, download: Download, expires_at, base_url) -> str:
        return self._presign(
            "get_object",
            expires_at,
            Key=key,
            ResponseContentType=download.content_type,
            ResponseContentDisposition=content_disposition_header(
                download.attachment, download.filename
            ),
        )

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = _error_code(exc)
            logger.warning("readiness check artifact_store: %s", exc)
            if code in {"404", "NoSuchBucket", "NotFound"}:
                raise CheckFailed("bucket not found") from None
            if code in {"403", "AccessDenied", "Forbidden"}:
                raise CheckFailed("access denied") from None
            raise CheckFailed(f"S3 error {code[:40]}") from None

    def delete(self, *, key, upload_id="") -> None:
        try:
            if upload_id:
                try:
                    self._call("abort_multipart_upload", Key=key, UploadId=upload_id)
                except ClientError as exc:
                    if _error_code(exc) != "NoSuchUpload":
                        raise
            self._call("delete_object", Key=key)
        except ClientError as exc:
            raise StoreUnavailable(f"S3 delete of {key} failed: {exc}") from exc
