"""Named assignments, read as each file type writes them: the value of a secret name
(``password = "…"``, ``--token X``, ``API_KEY=…``, ``key: value``), where which forms
count depends on the file (code, config or text), and a git diff is read file by file
from its own headers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from detect_secrets.filters import heuristic
from detect_secrets.util.filetype import FileType, determine_file_type

from kiroku.redaction.markers import NAMED_KIND
from kiroku.redaction.names import HINT, name_is_secret, worth_hiding

_NAME = r"(?<![\w.-])(?P<name>[A-Za-z_][\w.-]*)"
# name = "value", name: 'value', "name": "value", name := "value", x["name"] = "value",
# name: str = "value", token=`value`: the quoted value of a secret name, in any file.
_QUOTED = re.compile(
    _NAME + r"""["'\]]{0,2}\s*(?::\s*[A-Za-z_][\w\[\], .|]*?\s*(?==))?"""
    r"""(?:=|:=|=>|==|!=|:)\s*[@rbuRBU]{0,2}"""
    r"""(?:"(?P<v1>(?:[^"\\\n]|\\.)*)"|'(?P<v2>(?:[^'\\\n]|\\.)*)'|`(?P<v3>[^`\n]*)`)"""
)
# --password hunter2, --api-key=abc: a command line in a script, a README, a CI file.
_FLAG = re.compile(
    r"(?<![\w-])--?(?P<name>[A-Za-z][\w.-]*)(?:=|[ \t]+)(?P<value>[^\s\"'`\\-][^\s\"'`\\;|&)]*)"
)
# KEY=value at the start of a line (a .env file, a shell script), diff marker allowed.
_ENV_LINE = re.compile(
    r"^[+ -]?[ \t]*(?:export[ \t]+|set[ \t]+|ENV[ \t]+)?(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)"
    r"=(?P<value>[^\s\"'`#][^\s]*)",
    re.MULTILINE,
)
# key: value and key = value unquoted, to the end of the line (YAML, INI, .env, TOML).
_CONFIG_LINE = re.compile(
    r"^[+ -]?[ \t-]*(?:export[ \t]+)?(?P<name>[A-Za-z_][\w.-]*)[\"']?[ \t]*[=:][ \t]*"
    r"(?P<value>[^\s\"'`#{\[&*!|>][^\n]*?)[ \t]*(?:[ \t]#.*)?$",
    re.MULTILINE,
)

CODE, CONFIG, TEXT = "code", "config", "text"
_PATTERNS = {
    CODE: (_QUOTED, _FLAG),
    CONFIG: (_QUOTED, _CONFIG_LINE, _FLAG),
    TEXT: (_QUOTED, _ENV_LINE, _FLAG),
}
_CONFIG_TYPES = {FileType.YAML, FileType.CONFIG, FileType.INI, FileType.PROPERTIES, FileType.TOML}
_CODE_SUFFIXES = (".ts", ".tsx", ".jsx", ".rb", ".rs", ".kt", ".scala", ".ipynb", ".r", ".jl")


def _mode(filename: str | None) -> str:
    """How assignments are read in a file: code (values must be quoted, as
    detect-secrets asks for code), config (YAML, INI, .env...: unquoted values too) or
    text (anything else: quoted values, ``KEY=value`` lines, flags)."""
    if not filename:
        return TEXT
    base = filename.rsplit("/", 1)[-1].lower()
    if base.startswith(".env") or base.endswith(".env") or base == ".envrc":
        return CONFIG
    kind = determine_file_type(base)
    if kind in _CONFIG_TYPES:
        return CONFIG
    if kind in (FileType.OTHER, FileType.EXAMPLE):
        return CODE if base.endswith(_CODE_SUFFIXES) else TEXT
    return CODE


def assignment_spans(
    text: str, lowered: str, start: int, end: int, mode: str
) -> Iterator[tuple[int, int, str]]:
    """The values of secret names in ``text[start:end]``. Only a line that holds a
    secret-sounding word can name a secret, so the assignment patterns run on those
    lines alone, found with one pass over ``lowered`` (``text`` in lower case, same
    length)."""
    patterns = _PATTERNS[mode]
    line_end = start - 1
    for hint in HINT.finditer(lowered, start, end):
        if hint.start() <= line_end:
            continue  # this line is done
        line_start = text.rfind("\n", start, hint.start()) + 1 or start
        newline = text.find("\n", hint.end(), end)
        line_end = end if newline < 0 else newline
        for pattern in patterns:
            for match in pattern.finditer(text, line_start, line_end):
                if not name_is_secret(match.group("name")):
                    continue
                group = match.lastgroup  # the value: the last group of each pattern
                if group is None:  # pragma: no cover (every pattern ends with its value)
                    continue
                value = match.group(group)
                if not worth_hiding(value):
                    continue
                if pattern is not _QUOTED and heuristic.is_indirect_reference(f"x = {value}"):
                    continue
                yield (*match.span(group), NAMED_KIND)


_DIFF_FILE = re.compile(r"^diff --git .* \"?b/(?P<path>[^\n]*?)\"?$", re.MULTILINE)


def sections(text: str, filename: str | None) -> Iterator[tuple[int, int, str]]:
    """``(start, end, mode)`` of each part of ``text``: one per file of a git diff."""
    if filename is not None or "diff --git " not in text:
        yield 0, len(text), _mode(filename)
        return
    headers = list(_DIFF_FILE.finditer(text))
    if not headers or headers[0].start() > 0:
        yield 0, headers[0].start() if headers else len(text), TEXT
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        yield header.start(), end, _mode(header.group("path"))
