"""Datasets recorded by DVC: the ``md5`` of each output and input in ``dvc.lock`` and of
each output of a ``*.dvc`` file, read without DVC and without a YAML library.

DVC writes these files itself, in plain block YAML (mappings, ``- `` lists, plain or
quoted scalars), so a small parser for that subset reads them; anything outside it
(flow collections, anchors, multi-line strings) is kept as text or skipped, never an
error. Which entries count as datasets:

* every stage's ``outs`` in ``dvc.lock`` (what the pipeline produced);
* every ``deps`` entry that no stage produces and that is not source code (``.py``,
  ``.ipynb``, ``.sh``...): the pipeline's raw inputs;
* every ``outs`` entry of a ``*.dvc`` file (``dvc add``, ``dvc import``).

The dataset's ``name`` and ``uri`` are the path relative to ``root`` with ``/``
separators (DVC's own identity for it, the same on every machine), ``digest`` is
``md5:<DVC's md5>`` (a directory keeps DVC's ``.dir`` suffix, its key in the DVC
cache), ``size`` and ``file_count`` as DVC recorded them (``nfiles``; 1 for a file).
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

from kiroku.capture._process import ProbeError, clean_text, git_environment, log, run_command

MAX_DATASETS = 100  # the server's limit per request
MAX_FILE_BYTES = 4 * 1024 * 1024
# Without git to list them, look for *.dvc files this deep and no further.
MAX_WALK_DEPTH = 4
MAX_WALK_ENTRIES = 20_000
SKIP_DIRS = {".git", ".dvc", ".hg", ".venv", "venv", "node_modules", "__pycache__", ".tox"}
CODE_SUFFIXES = {
    ".py", ".ipynb", ".sh", ".bash", ".r", ".jl", ".js", ".ts", ".c", ".cc", ".cpp",
    ".h", ".hpp", ".java", ".scala", ".go", ".rs", ".toml", ".cfg", ".ini",
}  # fmt: skip
_MD5 = re.compile(r"^[0-9a-fA-F]{32}(\.dir)?$")
_KEY_BAD_CHARS = re.compile(r"[^\w\-. /]")


def dvc_datasets(root: Path) -> list[dict[str, Any]]:
    """Datasets named by ``dvc.lock`` and ``*.dvc`` files under ``root``, as
    ``{"name", "uri", "digest", "size", "file_count", "source": "dvc"}``, sorted by
    name, one per path (at most 100). Files are found with ``git ls-files`` when
    ``root`` is in a git work tree (tracked and untracked, not ignored), else by a walk
    four levels deep. ``[]`` when there are none; never raises."""
    root = Path(root)
    found: dict[str, dict[str, Any]] = {}
    try:
        files = _dvc_files(root)
    except OSError as exc:
        log.debug("dvc: cannot list %s: %s", root, exc)
        return []
    for path in files:
        try:
            text = _read(path)
            if path.name == "dvc.lock":
                entries = _lock_entries(parse_block_yaml(text))
            else:
                entries = _dvc_file_entries(parse_block_yaml(text))
        except (OSError, ValueError) as exc:
            log.debug("dvc: %s not read: %s", path, exc)
            continue
        for entry in entries:
            record = _record(root, path.parent, entry)
            if record is not None:
                found.setdefault(record["name"], record)
    return [found[name] for name in sorted(found)][:MAX_DATASETS]


def _dvc_files(root: Path) -> list[Path]:
    try:
        out, _ = run_command(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
             "dvc.lock", "*/dvc.lock", "*.dvc"],
            cwd=root,
            timeout=10,
            env=git_environment(),
        )  # fmt: skip
    except ProbeError:
        return _walk(root)
    names = sorted({n for n in out.decode("utf-8", "surrogateescape").split("\x00") if n})
    return [root / name for name in names if (root / name).is_file()]


def _walk(root: Path) -> list[Path]:
    found: list[Path] = []
    seen = 0
    for directory, dirs, files in os.walk(root):
        depth = len(Path(directory).relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and depth < MAX_WALK_DEPTH)
        seen += len(dirs) + len(files)
        found.extend(
            Path(directory) / f for f in sorted(files) if f == "dvc.lock" or f.endswith(".dvc")
        )
        if seen > MAX_WALK_ENTRIES:
            log.debug("dvc: stopped looking for .dvc files after %d entries", seen)
            break
    return found


def _read(path: Path) -> str:
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES} bytes")
    return data.decode("utf-8", errors="replace")


def _lock_entries(data: Any) -> list[dict[str, Any]]:
    """Outputs, then raw inputs, of every stage. Schema 2 (``schema: '2.0'`` with
    ``stages:``) and the first lock format (stages at the top) are both read."""
    if not isinstance(data, dict):
        raise ValueError("dvc.lock is not a mapping")
    stages = data.get("stages") if "schema" in data else data
    if not isinstance(stages, dict):
        return []
    outs: list[dict[str, Any]] = []
    deps: list[dict[str, Any]] = []
    for stage in stages.values():
        if isinstance(stage, dict):
            outs.extend(_entries(stage.get("outs")))
            deps.extend(_entries(stage.get("deps")))
    produced = {str(e.get("path")) for e in outs}
    raw_inputs = [
        e
        for e in deps
        if str(e.get("path")) not in produced
        and PurePosixPath(str(e.get("path"))).suffix.lower() not in CODE_SUFFIXES
    ]
    return outs + raw_inputs


def _dvc_file_entries(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, dict):
        raise ValueError(".dvc file is not a mapping")
    return _entries(data.get("outs"))


def _entries(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [e for e in value if isinstance(e, dict) and isinstance(e.get("path"), str)]


def _record(root: Path, base: Path, entry: dict[str, Any]) -> dict[str, Any] | None:
    md5 = entry.get("md5")
    if not isinstance(md5, str) or not _MD5.fullmatch(md5):
        return None  # not yet computed, or another hash (etag, checksum) we cannot compare
    target = os.path.normpath(os.path.join(base, entry["path"]))
    name = Path(os.path.relpath(target, root)).as_posix()
    size = _int(entry.get("size"))
    count = _int(entry.get("nfiles"))
    if count is None and not md5.endswith(".dir"):
        count = 1
    return {
        "name": _as_key(name),
        "uri": clean_text(name)[:1000],
        "digest": f"md5:{md5.lower()}",
        "size": size,
        "file_count": count,
        "source": "dvc",
    }


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _as_key(name: str) -> str:
    """The path as a dataset name the server accepts: letters, digits, ``_ - . /``
    and spaces, no ``..``, no leading ``/``, at most 250 characters (the end kept)."""
    key = _KEY_BAD_CHARS.sub("_", clean_text(name))
    while ".." in key:
        key = key.replace("..", "_")
    key = key.lstrip("/") or "_"
    return key[-250:]


# --- the YAML subset ----------------------------------------------------------------


def parse_block_yaml(text: str) -> Any:
    """Parse block-style YAML as DVC writes it: nested mappings, ``- `` sequences
    (also at the same indent as their key), plain, single- and double-quoted scalars,
    comments. Plain scalars that spell integers become ``int``; everything else stays
    text. Block scalars (``|``, ``>``) are joined into one line of text; flow
    collections are kept as their text. Raises ``ValueError`` on text it cannot
    follow (a tab indent, an item less indented than its parent)."""
    lines: list[tuple[int, str]] = []
    for raw in text.splitlines():
        if raw.strip() in ("---", "...") or not raw.strip():
            continue
        stripped = _strip_comment(raw).rstrip()
        if not stripped.strip():
            continue
        indent = len(stripped) - len(stripped.lstrip(" "))
        if stripped[indent:].startswith("\t"):
            raise ValueError("tab indentation")
        lines.append((indent, stripped[indent:]))
    if not lines:
        return None
    value, _ = _node(lines, 0, lines[0][0])
    return value


def _node(lines: list[tuple[int, str]], index: int, indent: int) -> tuple[Any, int]:
    if lines[index][1].startswith("- ") or lines[index][1] == "-":
        return _sequence(lines, index, indent)
    return _mapping(lines, index, indent)


def _sequence(lines: list[tuple[int, str]], index: int, indent: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    while index < len(lines) and lines[index][0] == indent:
        content = lines[index][1]
        if not (content.startswith("- ") or content == "-"):
            break
        rest = content[2:].lstrip() if content != "-" else ""
        inner = indent + (len(content) - len(rest) if rest else 2)
        if not rest:
            index += 1
            if index < len(lines) and lines[index][0] > indent:
                value, index = _node(lines, index, lines[index][0])
            else:
                value = None
            items.append(value)
        elif _split_key(rest) is not None or rest.startswith("- "):
            # "- key: value" opens a mapping whose keys line up after the dash.
            lines[index] = (inner, rest)
            value, index = _node(lines, index, inner)
            items.append(value)
        else:
            items.append(_scalar(rest))
            index += 1
    return items, index


def _mapping(lines: list[tuple[int, str]], index: int, indent: int) -> tuple[dict[str, Any], int]:
    result: dict[str, Any] = {}
    while index < len(lines):
        line_indent, content = lines[index]
        if line_indent < indent:
            break
        if line_indent > indent:
            raise ValueError(f"unexpected indentation at {content[:40]!r}")
        split = _split_key(content)
        if split is None:
            if content.startswith("- "):
                break
            raise ValueError(f"expected 'key: value' at {content[:40]!r}")
        key, rest = split
        index += 1
        if rest[:1] in ("|", ">") and not rest[1:].strip("+-0123456789"):
            block: list[str] = []
            while index < len(lines) and lines[index][0] > indent:
                block.append(lines[index][1])
                index += 1
            result[key] = " ".join(block)
        elif rest:
            result[key] = _scalar(rest)
        elif index < len(lines) and lines[index][0] > indent:
            result[key], index = _node(lines, index, lines[index][0])
        elif index < len(lines) and lines[index][0] == indent and lines[index][1][:2] == "- ":
            result[key], index = _sequence(lines, index, indent)
        else:
            result[key] = None
    return result, index


def _split_key(content: str) -> tuple[str, str] | None:
    """``key: rest`` → (key, rest); quoted keys allowed; None when it is no mapping line."""
    if content[:1] in ("'", '"'):
        end = _closing_quote(content)
        if end < 0 or not content[end + 1 :].startswith(":"):
            return None
        after = content[end + 2 :]
        if after and not after.startswith(" "):
            return None
        return str(_scalar(content[: end + 1])), after.strip()
    if content.startswith(("- ", "[", "{")):
        return None
    position = content.find(": ")
    if position < 0:
        if content.endswith(":"):
            return content[:-1].strip(), ""
        return None
    return content[:position].strip(), content[position + 2 :].strip()


def _closing_quote(text: str) -> int:
    quote = text[0]
    position = 1
    while position < len(text):
        char = text[position]
        if quote == '"' and char == "\\":
            position += 2
            continue
        if char == quote:
            if quote == "'" and text[position + 1 : position + 2] == "'":
                position += 2
                continue
            return position
        position += 1
    return -1


def _scalar(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return (
            text[1:-1]
            .replace('\\"', '"')
            .replace("\\\\", "\\")
            .replace("\\n", "\n")
            .replace("\\t", "\t")
        )
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    return text


def _strip_comment(line: str) -> str:
    """The line without a trailing ``# comment`` (a ``#`` that starts the line or
    follows a space, outside quotes)."""
    quote = ""
    for position, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in ("'", '"') and (position == 0 or line[position - 1] in " :-"):
            quote = char
        elif char == "#" and (position == 0 or line[position - 1] in " \t"):
            return line[:position]
    return line
