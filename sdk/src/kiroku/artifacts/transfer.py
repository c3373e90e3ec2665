"""One file's way to the store: hash it, declare it (``POST /runs/{id}/artifacts``),
send its bytes (one PUT of the whole file, or a multipart upload: see ``multipart``)
and complete it (``POST /artifacts/{id}/complete``). Run by the ``Uploader``'s file
workers, through its public methods."""

from __future__ import annotations

import mimetypes
import re
from typing import TYPE_CHECKING, Any

from kiroku.artifacts.files import LocalFile, file_sha256
from kiroku.artifacts.multipart import upload_parts
from kiroku.artifacts.storage import MAX_REFUSED_PUTS, Failed
from kiroku.errors import InvalidInput
from kiroku.keys import RUN_ID_RE

if TYPE_CHECKING:
    from kiroku.artifacts.upload import Uploader

_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][\w!#$&^.+-]{0,126}/[A-Za-z0-9][\w!#$&^.+-]{0,126}$", re.A)


def file_upload(uploader: Uploader, file: LocalFile) -> None:
    """Hash ``file``, declare it, send its bytes (one PUT, or the parts of a multipart
    upload) and complete it. Raises ``Failed`` (reported by the uploader)."""
    if uploader.stopping:
        raise uploader.stopped()
    try:
        sha256, size = file_sha256(file.path, lambda: uploader.stopping)
    except InterruptedError:
        raise uploader.stopped() from None
    except OSError as exc:
        raise Failed(InvalidInput(f"cannot read {file.path}: {exc}")) from exc
    uploader.size_changed(file.size, size)  # it changed since it was listed
    run_id = uploader.wait_run_id()
    body: dict[str, Any] = {"path": file.name, "size": size, "sha256": sha256}
    content_type = mimetypes.guess_type(file.name)[0]
    if content_type and _MEDIA_TYPE.fullmatch(content_type):  # else the server's default
        body["content_type"] = content_type
    # A declaration whose answer was lost and is sent again leaves a pending
    # version behind that is never completed, so never listed.
    answer = uploader.call("POST", f"/runs/{run_id}/artifacts", body)
    try:
        artifact_id, upload = str(answer["id"]), answer["upload"]
        if not RUN_ID_RE.fullmatch(artifact_id):
            raise ValueError(f"artifact id {artifact_id!r}")
        if upload["method"] == "put":
            _put_whole(uploader, file, size, upload)
            done: dict[str, Any] = {}
        elif upload["method"] == "multipart":
            done = {"parts": upload_parts(uploader, artifact_id, file, size, upload)}
        else:
            raise ValueError(f"upload method {upload['method']!r}")
    except (KeyError, TypeError, ValueError) as exc:
        raise Failed(InvalidInput(f"unexpected answer from the server: {exc!r}")) from exc
    try:
        uploader.call("POST", f"/artifacts/{artifact_id}/complete", done)
    except Failed as failed:
        if failed.error.code in ("checksum_mismatch", "size_mismatch"):
            failed.error.message += f" ({file.path} changed while it was uploaded?)"
        raise


def _put_whole(uploader: Uploader, file: LocalFile, size: int, upload: dict[str, Any]) -> None:
    """One PUT of the whole file, retried while the storage answers transiently (a 403
    a few times: the URL cannot be renewed without declaring a new version)."""
    url, headers = str(upload["url"]), dict(upload.get("headers") or {})
    attempt = refused = 0
    while True:
        reply, _etag = uploader.put(url, headers, file.path, 0, size)
        if reply.ok:
            return
        if reply.status == 403:
            refused += 1
            if refused >= MAX_REFUSED_PUTS:
                raise Failed(
                    InvalidInput(
                        f"the storage refused the upload ({reply.describe()}); its URL may "
                        "have expired: log the file again",
                        status=403,
                    )
                )
        elif not reply.transient:
            raise Failed(InvalidInput(f"the storage refused the upload ({reply.describe()})"))
        uploader.backoff(attempt, reply)
        attempt += 1
