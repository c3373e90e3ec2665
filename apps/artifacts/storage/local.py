"""The embedded default store: a folder on the server's disk.

Transfers point back at the Kiroku server (``/store/<ticket>``). A ticket is a signed,
expiring description of one transfer (which key, which part, how many bytes, which
SHA-256), so it works like a presigned URL: no token is needed, and nothing about
the transfer can be changed without breaking the signature. Bytes are hashed while
they stream to disk and refused unless they match what the ticket names, as S3
refuses a presigned PUT whose body differs from its signed checksum.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from django.core import signing

from apps.artifacts.storage.base import (
    Download,
    Store,
    Transfer,
    UploadProblem,
    part_sizes,
)
from apps.core.health import CheckFailed

logger = logging.getLogger(__name__)

TICKET_SALT = "kiroku.artifacts.store"
CHUNK = 1024 * 1024
# Keys are built from ids only; anything else never reaches the filesystem.
_KEY = re.compile(r"^[0-9]+/[0-9a-f]{32}/[0-9a-f]{32}$")


class TicketInvalid(Exception):
    """The ticket is forged, malformed or expired."""


@dataclass(frozen=True)
class Ticket:
    op: str  # "put", "part" or "get"
    key: str
    expires: int
    size: int = 0
    sha256: str = ""
    number: int = 0
    filename: str = ""
    content_type: str = ""
    attachment: bool = True

    def sign(self) -> str:
        return signing.dumps(self.__dict__, salt=TICKET_SALT, compress=True)

    @classmethod
    def open(cls, value: str) -> Ticket:
        try:
            fields = signing.loads(value, salt=TICKET_SALT)
            ticket = cls(**fields)
        except (signing.BadSignature, TypeError, ValueError) as exc:
            raise TicketInvalid("the transfer link is not valid") from exc
        if ticket.expires < time.time():
            raise TicketInvalid("the transfer link has expired")
        if not _KEY.fullmatch(ticket.key):
            raise TicketInvalid("the transfer link is not valid")
        return ticket


def _expires(expires_at: datetime) -> int:
    return int(expires_at.timestamp())


class LocalStore(Store):
    def __init__(self, *, root: Path) -> None:
        self.root = Path(root)

    def _file(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key

    def _parts_dir(self, key: str) -> Path:
        return self._file(key).with_name(self._file(key).name + ".parts")

    def _url(self, base_url: str, ticket: Ticket) -> str:
        return f"{base_url.rstrip('/')}/store/{ticket.sign()}"

    # -- what the API hands out ----------------------------------------------------

    def put_transfer(self, *, key, size, sha256, content_type, expires_at, base_url) -> Transfer:
        ticket = Ticket("put", key, _expires(expires_at), size=size, sha256=sha256)
        return Transfer(self._url(base_url, ticket), {"Content-Type": content_type})

    def part_transfer(
        self, *, key, upload_id, number, size, sha256, expires_at, base_url
    ) -> Transfer:
        ticket = Ticket("part", key, _expires(expires_at), size=size, sha256=sha256, number=number)
        return Transfer(self._url(base_url, ticket))

    def download_url(self, *, key, download: Download, expires_at, base_url) -> str:
        ticket = Ticket(
            "get",
            key,
            _expires(expires_at),
            filename=download.filename,
            content_type=download.content_type,
            attachment=download.attachment,
        )
        return self._url(base_url, ticket)

    # -- what /store/<ticket> does -------------------------------------------------

    def receive(self, ticket: Ticket, stream: IO[bytes] | None, content_length: int | None) -> str:
        """Stream a PUT body to disk; returns the ETag (the quoted SHA-256). Raises
        UploadProblem, writing nothing, unless exactly the ticket's bytes arrive."""
        if content_length != ticket.size:
            raise UploadProblem(
                "size_mismatch", f"Content-Length must be {ticket.size}, the declared size"
            )
        if ticket.op == "part":
            target = self._parts_dir(ticket.key) / str(ticket.number)
        else:
            target = self._file(ticket.key)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.{time.monotonic_ns()}")
        digest = hashlib.sha256()
        received = 0
        try:
            with open(temporary, "wb") as out:
                while received < ticket.size and stream is not None:
                    chunk = stream.read(min(CHUNK, ticket.size - received))
                    if not chunk:
                        break
                    digest.update(chunk)
                    out.write(chunk)
                    received += len(chunk)
            if received != ticket.size:
                raise UploadProblem(
                    "size_mismatch", f"{received} bytes arrived; {ticket.size} were declared"
                )
            if digest.hexdigest() != ticket.sha256:
                raise UploadProblem(
                    "checksum_mismatch", "the body's SHA-256 differs from the declared sha256"
                )
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        return f'"{ticket.sha256}"'

    def open_for_download(self, ticket: Ticket) -> IO[bytes]:
        return open(self._file(ticket.key), "rb")

    # -- checks at completion ------------------------------------------------------

    def put_verify(self, *, key, size, sha256) -> None:
        # receive() only ever writes a file whose bytes match the declared SHA-256.
        try:
            found = self._file(key).stat().st_size
        except FileNotFoundError:
            raise UploadProblem(
                "upload_missing", "nothing has been uploaded for this artifact"
            ) from None
        if found != size:
            raise UploadProblem("size_mismatch", f"the stored file has {found} bytes, not {size}")

    def multipart_start(self, *, key, content_type) -> str:
        return "local"

    def multipart_complete(
        self, *, key, upload_id, size, part_size, parts_sha256, parts, sha256
    ) -> None:
        folder = self._parts_dir(key)
        etags = {done.number: done.etag.strip('"') for done in parts}
        sizes = part_sizes(size, part_size)
        for number, expected in enumerate(sizes, start=1):
            part = folder / str(number)
            if not part.is_file():
                raise UploadProblem("parts_mismatch", f"part {number} has not been uploaded")
            if part.stat().st_size != expected:
                raise UploadProblem("size_mismatch", f"part {number} must have {expected} bytes")
            if etags.get(number) != parts_sha256[number - 1]:
                raise UploadProblem(
                    "parts_mismatch", f"the ETag given for part {number} is not the uploaded one"
                )
        target = self._file(key)
        digest = hashlib.sha256()
        temporary = target.with_name(f".{target.name}.assembling")
        try:
            with open(temporary, "wb") as out:
                for number in range(1, len(sizes) + 1):
                    with open(folder / str(number), "rb") as part_file:
                        while chunk := part_file.read(CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
            if digest.hexdigest() != sha256:
                raise UploadProblem(
                    "checksum_mismatch",
                    "the assembled file's SHA-256 differs from the declared one",
                )
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)

    def check(self) -> None:
        try:
            # The store creates its folder on first write; so may this.
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".kiroku-readyz-"):
                pass
        except OSError as exc:
            logger.warning("readiness check artifact_store: %s", exc)
            raise CheckFailed("folder not writable") from None

    def delete(self, *, key, upload_id="") -> None:
        self._file(key).unlink(missing_ok=True)
        shutil.rmtree(self._parts_dir(key), ignore_errors=True)
