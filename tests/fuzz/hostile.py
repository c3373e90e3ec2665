"""Hostile values: the inputs that have broken JSON APIs before (64-bit edges, huge and
non-finite numbers, lone surrogates, NUL, non-ASCII digits, deep nesting, times
outside years 1 to 9999, search filters at their limits), and the requests that put each
one into every field of an operation's documented request examples, every query
parameter and every path parameter.

Deterministic: the same requests, in the same order, every run.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tests.fuzz.world import STEP_MAX, STEP_MIN

# JSON text, spliced in as it is (so literals json.dumps cannot write are sent too).
JSON_VALUES: tuple[str, ...] = (
    "null",
    "true",
    "0",
    "-1",
    "1.5",
    "-0.0",
    str(2**53 + 1),
    str(STEP_MAX),
    str(STEP_MAX + 1),
    str(STEP_MIN),
    str(STEP_MIN - 1),
    str(2**64),
    str(10**40),
    "9" * 4300,  # the longest integer the parser reads
    "9" * 5000,
    "1e308",
    "-1e308",
    "1e400",
    "5e-324",
    "NaN",
    '""',
    '" "',
    json.dumps("x" * 100_000),
    r'"\u0000"',
    r'"\ud800"',
    r'"a\udfffb"',
    '"\u0661\u0662\u0663"',
    '"²"',
    '"\u202eevil"',
    '"9999-12-31T23:59:59-14:00"',
    '"0001-01-01T00:00:00+14:00"',
    '"NaN"',
    '"-Infinity"',
    '"../../etc/passwd"',
    '"<script>alert(1)</script>"',
    '"\' OR 1=1 --"',
    "[]",
    "{}",
    '[""]',
    '{"": null}',
    "[" * 64 + "]" * 64,
    "[" * 100_000 + "]" * 100_000,
)

# What replaces a whole object or array: the wrong types, and nesting past the limit.
CONTAINER_VALUES: tuple[str, ...] = (
    "null",
    "0",
    '"x"',
    "[]",
    "{}",
    "[{}]",
    "[" * 100_000 + "]" * 100_000,
)

# Query and path parameter values (text, sent percent-encoded as UTF-8; a lone
# surrogate is sent as the bytes it would be, which are not UTF-8).
TEXT_VALUES: tuple[str, ...] = (
    "",
    " ",
    "0",
    "-1",
    "1.5",
    "\u0661",  # ARABIC-INDIC DIGIT ONE
    "²",
    "\u0663\u0662",
    str(STEP_MAX),
    str(STEP_MAX + 1),
    str(STEP_MIN - 1),
    str(2**64),
    "9" * 400,
    "1e400",
    "NaN",
    "-inf",
    "\x00",
    "\ud800",
    "x" * 20_000,
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "true",
    "null",
    "'",
    '"',
    "%",
    "\\",
    "../..",
    ",".join(["a"] * 500),
    "params.lr in (" + ",".join(str(i) for i in range(1000)) + ")",
    "tags.team in (" + ",".join(f"'t{i}'" for i in range(1000)) + ")",
    "(" * 50 + "metrics.loss > 0" + ")" * 50,
    "(" * 60 + "metrics.loss > 0" + ")" * 60,
    " or ".join(["metrics.loss > 0"] * 100),
    "metrics.loss > 1e400",
    "start_time > 99999999999999999999999",
    "start_time < '9999-12-31T23:59:59-14:00'",
    "duration > 1e300",
    "params.lr like '%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%'",
    "metrics.`a``b` >= -0",
    "metrics.loss desc, params.lr asc, tags.team, name, status, duration, start_time, "
    "end_time, created, author, group",
)

# Bodies that are hostile as a whole, with the headers that go with them.
_BOMB = gzip.compress(b"[" + b"0," * 3_000_000 + b"0]")
RAW_BODIES: tuple[tuple[str, bytes, dict[str, str]], ...] = (
    ("empty", b"", {}),
    ("not UTF-8", b'{"name": "\xff\xfe"}', {}),
    ("truncated", b'{"name": ', {}),
    ("a JSON string", b'"just text"', {}),
    ("a JSON array", b'[{"name": "x"}]', {}),
    ("duplicate keys", b'{"name": "a", "name": "b"}', {}),
    ("gzip, not gzip", b"not gzip at all", {"Content-Encoding": "gzip"}),
    ("deflate, truncated", zlib.compress(b'{"name": "x"}')[:-3], {"Content-Encoding": "deflate"}),
    ("gzip bomb", _BOMB, {"Content-Encoding": "gzip"}),
    ("unknown encoding", b"{}", {"Content-Encoding": "br"}),
    ("form-encoded", b"name=x&size=1", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("multipart", b"--b\r\n\r\n--b--", {"Content-Type": "multipart/form-data; boundary=b"}),
    ("text/plain", b"{}", {"Content-Type": "text/plain"}),
    ("no content type", b"{}", {"Content-Type": ""}),
)

# Headers a client controls, each sent in place of (or beside) the admin's credentials.
HEADER_VALUES: tuple[dict[str, str], ...] = (
    {"Authorization": "Bearer "},
    {"Authorization": "Bearer krk_" + "0" * 43},
    {"Authorization": "Bearer krk_" + "x" * 9000},
    {"Authorization": "Bearer krk_\xe9\xe9"},
    {"Authorization": "Basic Og=="},
    {"Authorization": "Token a b c"},
    {"Accept": "text/csv"},
    {"Accept": "application/json; q=NaN, */*;q=-1"},
    {"Accept-Encoding": "gzip;q=2, br"},
    {"Cookie": "sessionid=' OR 1=1; csrftoken=\x7f"},
    {"X-Forwarded-For": "999.999.999.999, ::ffff:1, " + "1." * 500},
    {"X-Request-Id": "\t" + "r" * 5000},
    {"Content-Length": "-1"},
    {"If-None-Match": "*"},
)

# Request bodies beyond the documented examples, so every field a handler reads is
# tried (operationId -> bodies).
EXTRA_BODIES: dict[str, list[Any]] = {
    "runs_create": [
        {
            "name": "n",
            "group": "g",
            "notes": "notes",
            "client_id": "client-0001",
            "started_at": "2026-01-01T00:00:00Z",
            "params": {"lr": 0.1, "s": "x"},
            "tags": {"t": "v", "gone": None},
            "git": {
                "commit": "abc",
                "branch": "b",
                "remote": "https://h/r.git",
                "dirty": True,
                "diff": "+1",
                "diff_truncated": False,
            },
            "environment": {
                "python": "3.11",
                "packages": ["a==1"],
                "os": "Linux",
                "cpu_count": 2,
                "memory": 1024,
                "gpus": [{"name": "g"}],
                "command": ["python", "x.py"],
                "cwd": "/w",
                "hostname": "h",
            },
            "ci": {
                "provider": "github",
                "commit": "abc",
                "ref": "refs/heads/main",
                "pr": 7,
                "run_id": "1",
                "run_attempt": 1,
                "workflow": "ci",
                "event": "push",
            },
            "datasets": [
                {
                    "name": "d",
                    "uri": "s3://b/k",
                    "digest": "sha256:00",
                    "size": 1,
                    "file_count": 1,
                    "source": "dvc",
                }
            ],
        }
    ],
    "runs_log": [
        {
            "batch_id": "b-1",
            "metrics": [
                {"key": "loss", "value": 0.5, "step": 3, "timestamp": "2026-01-01T00:00:00Z"}
            ],
            "params": {"p": 1},
            "tags": {"t": "v"},
            "summary": {"best": 1, "nested": {"a": [1, 2]}},
            "datasets": [{"name": "d", "size": 1, "file_count": 1}],
        }
    ],
    "runs_finish": [{"status": "failed", "summary": {"x": 1}}],
    "runs_update": [{"name": "n", "notes": "x", "group": "g", "tags": {"a": "b"}}],
    "comments_edit": [{"body": "edited"}],
    "rules_update": [
        {
            "event": "metric.threshold",
            "condition": {"metric": "loss", "op": "<", "value": 1},
            "filters": {"tags": {"team": "vision"}, "branch": "main"},
            "cooldown": 60,
            "enabled": True,
        }
    ],
}


@dataclass(frozen=True)
class Probe:
    """One hostile request: what it changed (for the failure message) and what to send."""

    what: str
    path: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _nodes(value: Any, path: tuple = ()) -> Iterator[tuple]:
    """Every position in ``value``, depth first: the root, each key's, and each list's
    first item's (the other items are read by the same code)."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _nodes(item, (*path, key))
    elif isinstance(value, list) and value:
        yield from _nodes(value[0], (*path, 0))


_MARK = "\x01HOSTILE\x01"


def _with(value: Any, path: tuple, replacement: Any) -> Any:
    if not path:
        return replacement
    head, *rest = path
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = _with(value[head], tuple(rest), replacement)
    return copy


def body_probes(base: Any, seen: set[tuple]) -> Iterator[tuple[str, bytes]]:
    """``base`` with each of its values replaced by each of JSON_VALUES (each of its
    objects and arrays by each of CONTAINER_VALUES), as JSON text; positions in
    ``seen`` (probed in another body of the operation) are skipped, and added."""
    for path in _nodes(base):
        if path in seen:
            continue
        seen.add(path)
        template = json.dumps(_with(base, path, _MARK))
        where = "".join(f"[{p!r}]" for p in path) or "the body"
        node = base
        for step in path:
            node = node[step]
        values = CONTAINER_VALUES if isinstance(node, dict | list) else JSON_VALUES
        for value in values:
            text = template.replace(json.dumps(_MARK), value)
            yield f"{where} = {value[:40]}", text.encode("utf-8", "surrogatepass")


def quoted(value: str) -> str:
    """``value`` percent-encoded for a URL, lone surrogates as their (invalid) bytes."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def operation_bodies(operation: dict) -> list[Any]:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    bodies = [example["value"] for example in content.get("examples", {}).values()]
    if "example" in content:
        bodies.append(content["example"])
    return bodies + EXTRA_BODIES.get(operation.get("operationId", ""), [])


def operation_probes(operation: dict, path_ids: dict[str, str], base_query: dict[str, str]):
    """Every hostile request for one operation, ``path_ids`` naming real rows and
    ``base_query`` the query parameters it needs to get past a 400."""
    path_names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
    query_names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    for headers in HEADER_VALUES:
        yield Probe(f"headers {headers!r:.60}", path_ids, base_query, headers=headers)
    for name in path_names:
        # The first values: ids are short, and the long ones are for filters.
        for value in TEXT_VALUES[:20]:
            yield Probe(f"path {name} = {value[:40]!r}", {**path_ids, name: value}, base_query)
    for name in query_names:
        for value in TEXT_VALUES:
            query = {**base_query, name: value}
            yield Probe(f"query {name} = {value[:60]!r}", path_ids, query)
    if operation.get("requestBody") is not None:
        yield from _body_probes(operation, path_ids, base_query)
    # Last, as it may delete the row the others are aimed at.
    yield Probe("nothing changed", path_ids, base_query)


def _body_probes(operation: dict, path_ids: dict[str, str], base_query: dict[str, str]):
    """Each documented (and extra) body with each position made hostile, then the
    bodies that are hostile as a whole."""
    seen: set[tuple] = set()
    for base in operation_bodies(operation) or [{}]:
        for what, body in body_probes(base, seen):
            yield Probe(what, path_ids, base_query, body)
    for what, body, headers in RAW_BODIES:
        yield Probe(f"body {what}", path_ids, base_query, body, headers)
