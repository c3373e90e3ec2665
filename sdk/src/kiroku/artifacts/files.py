"""What an artifact upload reads: the files under a path, the names they get, their
sha256 (whole and per part) and the byte ranges of a multipart upload.

Names follow the server's rules (``apps/artifacts``): ``/``-separated, relative, no
``.``, ``..`` or empty segments, no ``\\``, ``#``, ``;`` or control characters, and no
percent-encoded traversal. They are checked here so a bad name is reported at
``log_artifact()`` instead of as a 400 later.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote

logger = logging.getLogger("kiroku")

CHUNK = 1024 * 1024  # files are read and hashed 1 MiB at a time
MAX_NAME_BYTES = 1024
_MAX_DECODINGS = 8
_DRIVE = re.compile(r"^[A-Za-z]:")
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\\#;]")


def artifact_name_problem(name: str) -> str | None:
    """Why the server would refuse ``name`` as an artifact path, or None. Mirrors
    ``apps.artifacts.paths`` (each segment is checked as it is and as each round of
    percent-decoding and NFKC normalisation would read it)."""
    if not isinstance(name, str) or not name:
        return "an artifact path must be a non-empty string"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"an artifact path must be at most {MAX_NAME_BYTES} bytes in UTF-8"
    if name.startswith("/") or _DRIVE.match(name):
        return "an artifact path must be relative (no leading '/' or drive letter)"
    for segment in name.split("/"):
        forms = [segment]
        while "%" in forms[-1] and len(forms) <= _MAX_DECODINGS:
            try:
                decoded = unquote(forms[-1], errors="strict")
            except UnicodeDecodeError:
                return "an artifact path must not percent-encode bytes that are not UTF-8"
            if decoded == forms[-1]:
                break
            forms.append(decoded)
        for form in forms:
            normalised = unicodedata.normalize("NFKC", form)
            if form in ("", ".", "..") or normalised in (".", "..") or "/" in normalised:
                return "an artifact path must not have empty, '.' or '..' segments (or encode them)"
            if _FORBIDDEN.search(form) or "\\" in normalised:
                return "an artifact path must not contain '\\', '#', ';' or control characters"
    return None


def log_problem(
    path: str | os.PathLike[str], name: str | None, *, caller: str = "log_artifact"
) -> str | None:
    """Why ``log_artifact(path, name)`` cannot be queued, or None: what is cheap to
    check in the training thread (the path exists, the name is valid). Messages
    start with ``<caller>():``."""
    text = os.fspath(path)
    if name is not None and not isinstance(name, str):
        return f"{caller}(): name must be a string, not {type(name).__name__}"
    try:
        exists = os.path.isdir(text) or os.path.isfile(text)
    except (OSError, ValueError):
        exists = False
    if not exists:
        return f"{caller}(): {text!r} is not a file or directory; nothing uploaded"
    chosen = name or os.path.basename(os.path.realpath(text)) or "root"
    problem = artifact_name_problem(chosen)
    return f"{caller}(): artifact path {chosen!r}: {problem}" if problem else None


@dataclass(frozen=True)
class LocalFile:
    """One file to upload: its artifact path (``name``), where it is, and its size."""

    name: str
    path: str
    size: int


def collect_files(
    path: str, name: str | None, on_skip: Callable[[str, str], None]
) -> list[LocalFile]:
    """The files ``log_artifact(path, name)`` uploads, in sorted order of their names.

    A file is uploaded as ``name`` (default: its basename). Under a directory, every
    regular file is uploaded as ``<name or the directory's name>/<relative path>``;
    a symlink to a file inside the directory is uploaded under the link's name, a
    symlink that points outside it (or nowhere) is skipped, and symlinked directories
    are not followed. Sockets, FIFOs and devices are skipped. ``on_skip(path, why)``
    hears about each file left out, including names the server would refuse.

    Raises OSError when ``path`` cannot be read (FileNotFoundError when it is not there).
    """
    info = os.stat(path)
    if stat.S_ISREG(info.st_mode):
        chosen = name or os.path.basename(os.path.abspath(path))
        return _named([LocalFile(chosen, path, info.st_size)], on_skip)
    if not stat.S_ISDIR(info.st_mode):
        raise OSError(f"{path} is neither a file nor a directory")
    root = os.path.realpath(path)
    prefix = name or os.path.basename(root) or "root"
    found: list[LocalFile] = []
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for dirname in dirnames:
            if os.path.islink(os.path.join(directory, dirname)):
                on_skip(os.path.join(directory, dirname), "a symlinked directory is not followed")
        relative_dir = os.path.relpath(directory, root)
        for filename in sorted(filenames):
            full = os.path.join(directory, filename)
            relative = filename if relative_dir == "." else f"{relative_dir}/{filename}"
            relative = relative.replace(os.sep, "/")
            entry = _regular_inside(full, root)
            if isinstance(entry, str):
                on_skip(full, entry)
                continue
            found.append(LocalFile(f"{prefix}/{relative}", full, entry.st_size))
    return _named(sorted(found, key=lambda f: f.name), on_skip)


def _regular_inside(full: str, root: str) -> os.stat_result | str:
    """The file's stat when it is a regular file (or a link to one) inside ``root``;
    otherwise why it is skipped."""
    try:
        if os.path.islink(full):
            target = os.path.realpath(full)
            if os.path.commonpath([target, root]) != root:
                return "a symlink that points outside the directory"
        info = os.stat(full)
    except (OSError, ValueError):
        return "unreadable, or a broken symlink"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    return info


def _named(files: list[LocalFile], on_skip: Callable[[str, str], None]) -> list[LocalFile]:
    kept = []
    for file in files:
        # Names go to the server NFC-normalised (as keys do): macOS writes NFD names.
        file = LocalFile(unicodedata.normalize("NFC", file.name), file.path, file.size)
        problem = artifact_name_problem(file.name)
        if problem is not None:
            on_skip(file.path, f"{file.name!r}: {problem}")
            continue
        kept.append(file)
    return kept


# -- hashing and parts -------------------------------------------------------------


def _never() -> bool:
    return False


def part_ranges(size: int, part_size: int, part_count: int | None = None) -> list[tuple[int, int]]:
    """``(offset, length)`` of each part (part n is item n-1): part n covers bytes
    ``[(n-1)*part_size, min(n*part_size, size))``. An empty file is one empty part.
    ``part_count`` is the server's; raises ValueError when it does not fit ``size``."""
    if part_size <= 0 or size < 0:
        raise ValueError(f"bad part plan: size {size}, part size {part_size}")
    count = max(1, -(-size // part_size))
    if part_count is not None and part_count != count:
        raise ValueError(
            f"the server's plan does not fit the file: {part_count} part(s) of {part_size} "
            f"bytes for {size} bytes (expected {count})"
        )
    offsets = (number * part_size for number in range(count))
    return [(offset, min(part_size, size - offset)) for offset in offsets]


def read_range(path: str, offset: int, length: int) -> Iterator[bytes]:
    """The bytes ``[offset, offset+length)`` of a file, 1 MiB at a time. Raises
    OSError when the file ends early (it changed since it was hashed)."""
    left = length
    with open(path, "rb") as handle:
        handle.seek(offset)
        while left > 0:
            chunk = handle.read(min(CHUNK, left))
            if not chunk:
                raise OSError(f"{path} is shorter than when it was hashed (it changed)")
            left -= len(chunk)
            yield chunk


def file_sha256(path: str, should_stop: Callable[[], bool] = _never) -> tuple[str, int]:
    """``(hex sha256, size)`` of a file's content as read now. Raises OSError;
    InterruptedError when ``should_stop()`` turns true (checked every chunk)."""
    digest = hashlib.sha256()
    size = 0
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while read := handle.readinto(buffer):
            digest.update(view[:read])  # releases the GIL: the training thread goes on
            size += read
            if should_stop():
                raise InterruptedError(path)
    return digest.hexdigest(), size


def parts_sha256(
    path: str, size: int, part_size: int, should_stop: Callable[[], bool] = _never
) -> list[str]:
    """The hex sha256 of each part of a ``size``-byte file (see ``part_ranges``), in
    one pass. Raises OSError when the file is not ``size`` bytes long any more (it
    changed since it was hashed); InterruptedError when ``should_stop()`` turns true."""
    digests: list[str] = []
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        for _offset, length in part_ranges(size, part_size):
            digest = hashlib.sha256()
            left = length
            while left:
                read = handle.readinto(view[: min(CHUNK, left)])
                if not read:
                    raise OSError(f"{path} is shorter than when it was hashed (it changed)")
                digest.update(view[:read])
                left -= read
                if should_stop():
                    raise InterruptedError(path)
            digests.append(digest.hexdigest())
        if handle.read(1):
            raise OSError(f"{path} is longer than when it was hashed (it changed)")
    return digests
