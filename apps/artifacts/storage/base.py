"""The one small interface every artifact store implements.

A store never sees a client's path: keys are built from ids by
``apps.artifacts.keys``. Every method that talks to the store may raise
``StoreUnavailable``; checks that fail because of what the client uploaded raise
``UploadProblem``.
"""

from __future__ import annotations

import base64
import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime


class UploadProblem(Exception):
    """What was uploaded does not match what was declared. ``code`` is the API error
    code; ``restarted`` says a multipart upload had to be started again (its parts
    must all be uploaded anew)."""

    def __init__(self, code: str, message: str, *, restarted: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.restarted = restarted


class StoreUnavailable(Exception):
    """The store could not be reached or answered with an error of its own."""


@dataclass(frozen=True)
class Transfer:
    """Where and how a client sends (or fetches) bytes: the URL and the headers it must
    send verbatim."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PartDone:
    number: int
    etag: str


@dataclass(frozen=True)
class Download:
    """How a download should present itself to the browser."""

    filename: str
    content_type: str
    attachment: bool


def sha256_b64(hex_digest: str) -> str:
    """S3's spelling of a SHA-256 (base64 of the digest) from its hex spelling."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def composite_sha256_b64(parts_hex: list[str]) -> str:
    """S3's composite checksum of a multipart object: the SHA-256 of the parts'
    SHA-256 digests, concatenated, base64-encoded (without the ``-N`` suffix)."""
    joined = b"".join(bytes.fromhex(part) for part in parts_hex)
    return base64.b64encode(hashlib.sha256(joined).digest()).decode()


class Store(ABC):
    """An artifact store. ``base_url`` is the Kiroku server's own address as the client
    sees it (the local store serves its transfers itself; S3 ignores it)."""

    @abstractmethod
    def put_transfer(
        self,
        *,
        key: str,
        size: int,
        sha256: str,
        content_type: str,
        expires_at: datetime,
        base_url: str,
    ) -> Transfer:
        """A presigned single PUT of exactly ``size`` bytes with this SHA-256."""

    @abstractmethod
    def put_verify(self, *, key: str, size: int, sha256: str) -> None:
        """Check the uploaded object; raise UploadProblem when it is missing or differs."""

    @abstractmethod
    def multipart_start(self, *, key: str, content_type: str) -> str:
        """Open a multipart upload; returns its upload id."""

    @abstractmethod
    def part_transfer(
        self,
        *,
        key: str,
        upload_id: str,
        number: int,
        size: int,
        sha256: str,
        expires_at: datetime,
        base_url: str,
    ) -> Transfer:
        """A presigned PUT of part ``number`` (1-based)."""

    @abstractmethod
    def multipart_complete(
        self,
        *,
        key: str,
        upload_id: str,
        size: int,
        part_size: int,
        parts_sha256: list[str],
        parts: list[PartDone],
        sha256: str,
    ) -> None:
        """Check every part against what was declared and assemble the object;
        raise UploadProblem when something differs. ``sha256`` is the whole file's
        declared digest, checked where the store can compute it."""

    @abstractmethod
    def download_url(
        self, *, key: str, download: Download, expires_at: datetime, base_url: str
    ) -> str:
        """A short-lived URL that serves the object."""

    @abstractmethod
    def delete(self, *, key: str, upload_id: str = "") -> None:
        """Remove the object and abort its multipart upload, if any. Deleting what is
        not there is not an error."""

    @abstractmethod
    def check(self) -> None:
        """Whether the store can take objects now (``/readyz``). Raises
        ``apps.core.health.CheckFailed`` with a short public reason (never a URL), or
        lets a client library's exception through (reported by its type)."""


def part_sizes(size: int, part_size: int) -> list[int]:
    """The size of each part of a ``size``-byte object cut into ``part_size`` parts."""
    count = max(1, -(-size // part_size))
    return [part_size] * (count - 1) + [size - part_size * (count - 1)]
