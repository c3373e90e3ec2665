"""The metrics and params files ``kiroku ci report`` records, read and checked against
the server's rules before anything is sent.

Metrics come from JSON or YAML objects (nested keys joined with ``/``; dvclive's
``metrics.json`` and ``dvc metrics show --json`` output are recognised), from CSV/TSV
files (``key,value`` rows or one column per metric), or from the files a ``dvc.yaml``
lists. The format is chosen by the file's extension. Every problem raises
:class:`~kiroku.errors.InvalidInput` with a message naming the file (as the caller
spelled it) and the line or key, so the CLI can print it and exit 2.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

from kiroku.errors import InvalidInput
from kiroku.keys import MAX_PARAM_VALUE_LENGTH, MAX_STEP, MIN_STEP, key_clean, text_value
from kiroku.redaction import redact_value

Points = dict[str, list[tuple[int, float]]]

METRICS_SUFFIXES = (".json", ".yaml", ".yml", ".csv", ".tsv")
PARAMS_SUFFIXES = (".json", ".yaml", ".yml")
# The spellings the server uses for non-finite numbers; JSON has no literal for them.
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_KEY_HEADERS = {"key", "metric", "name"}
_DVC_SHOW_KEYS = {"data", "error"}

# Each metric's points with the file they came from, to name both files of a duplicate.
_Sourced = dict[str, tuple[str, list[tuple[int, float]]]]


def read_metrics_files(paths: Sequence[str | os.PathLike[str]]) -> Points:
    """All metrics of ``paths`` merged, each key's ``(step, value)`` points in file
    order. ``{}`` for no paths. Raises InvalidInput naming the file and the line or key
    on any problem, and naming both files when two of them hold the same key."""
    merged: _Sourced = {}
    for path in paths:
        _merge(merged, _read_metrics(os.fspath(path)))
    return {key: series for key, (_, series) in merged.items()}


def read_params_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """The params of a JSON or YAML object (nested keys joined with ``/``; an empty
    object stays a value), each value as the text the server stores, secrets redacted
    as ``kiroku.init`` redacts config (``kiroku.redaction.redact_value``). Raises
    InvalidInput for another extension, a bad key, a value longer than the server's
    limit, or a file without params."""
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in PARAMS_SUFFIXES:
        raise InvalidInput(
            f"params file {path!r} has an unsupported extension; supported: .json, .yaml, .yml"
        )
    doc = _load(path, read_text(path, "params file"), suffix)
    _require_object(path, doc)
    params: dict[str, str] = {}
    for raw_key, value in _flat(path, doc, keep_empty=True):
        key = _checked_key(path, raw_key)
        text, problem = text_value(value, max_length=MAX_PARAM_VALUE_LENGTH)
        if text is None:
            raise InvalidInput(f"{path}: param {key!r}: {problem}")
        if key in params:
            raise InvalidInput(f"{path}: key {key!r} appears twice")
        params[key] = redact_value(key, text)[:MAX_PARAM_VALUE_LENGTH]
    if not params:
        raise InvalidInput(f"params file {path!r} has no params")
    return params


def read_bytes(path: str, what: str) -> bytes:
    """The content of the file ``what`` ("metrics file"...) at ``path``. Raises
    InvalidInput when it is missing, a directory, unreadable, or empty."""
    if os.path.isdir(path):
        raise InvalidInput(f"{what} {path!r} is a directory")
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        raise InvalidInput(f"{what} {path!r} does not exist") from None
    except OSError as exc:
        raise InvalidInput(f"{what} {path!r} cannot be read: {exc.strerror or exc}") from None
    if not data.strip():
        raise InvalidInput(f"{what} {path!r} is empty")
    return data


def read_text(path: str, what: str) -> str:
    """:func:`read_bytes` decoded as UTF-8 (a byte-order mark, as Windows tools write
    it, is dropped). Raises InvalidInput for text in another encoding."""
    try:
        return read_bytes(path, what).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{what} {path!r} is not UTF-8 (byte {exc.start})") from None


def _merge(into: _Sourced, new: _Sourced, context: str = "") -> None:
    for key, (source, series) in new.items():
        if key in into:
            raise InvalidInput(
                f"{context}metric {key!r} is in both {into[key][0]!r} and {source!r}"
            )
        into[key] = (source, series)


def _read_metrics(path: str) -> _Sourced:
    if os.path.basename(path) == "dvc.yaml":
        return _read_dvc_yaml(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in METRICS_SUFFIXES:
        raise InvalidInput(
            f"metrics file {path!r} has an unsupported extension; "
            "supported: .json, .yaml, .yml, .csv, .tsv, dvc.yaml"
        )
    text = read_text(path, "metrics file")
    if suffix in (".csv", ".tsv"):
        points = _csv_points(path, text, "\t" if suffix == ".tsv" else ",")
    else:
        doc = _load(path, text, suffix)
        _require_object(path, doc)
        points = _dvc_show_points(path, doc) if _is_dvc_show(doc) else _object_points(path, doc)
    if not points:
        raise InvalidInput(f"metrics file {path!r} has no metrics")
    return {key: (path, series) for key, series in points.items()}


def _load(path: str, text: str, suffix: str) -> Any:
    if suffix == ".json":
        try:
            # Python's json also reads the NaN/Infinity literals that json.dump writes.
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"{path} line {exc.lineno} column {exc.colno}: invalid JSON ({exc.msg})"
            ) from None
    try:
        import yaml
    except ImportError:
        raise InvalidInput("reading YAML needs PyYAML: pip install 'kiroku[ci]'") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path} line {mark.line + 1} column {mark.column + 1}" if mark else path
        raise InvalidInput(
            f"{where}: invalid YAML ({getattr(exc, 'problem', None) or exc})"
        ) from None


def _require_object(path: str, doc: Any) -> None:
    if not isinstance(doc, dict):
        raise InvalidInput(f"{path}: the top level is {_kind(doc)}; expected an object")


def _object_points(label: str, doc: dict) -> Points:
    """One object's metrics at step 0, or at the step of dvclive's top-level ``step``."""
    step = 0
    if type(doc.get("step")) is int:
        step = _checked_step(label, doc["step"])
        doc = {key: value for key, value in doc.items() if key != "step"}
    points: Points = {}
    for raw_key, value in _flat(label, doc):
        key = _checked_key(label, raw_key)
        if key in points:
            raise InvalidInput(f"{label}: key {key!r} appears twice")
        points[key] = [(step, _number(label, key, value))]
    return points


def _flat(
    label: str, mapping: dict, prefix: str = "", *, keep_empty: bool = False
) -> Iterator[tuple[str, Any]]:
    """``(joined_key, leaf)`` for every leaf of a nested object, in document order."""
    for raw, value in mapping.items():
        # YAML reads `3:` as an integer key; JSON would have it as the string "3".
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise InvalidInput(f"{label}: key {raw!r} is not a string")
        key = f"{prefix}{raw}"
        if isinstance(value, dict) and (value or not keep_empty):
            yield from _flat(label, value, f"{key}/", keep_empty=keep_empty)
        else:
            yield key, value


def _number(where: str, key: str, value: Any) -> float:
    if isinstance(value, str):
        if value in _NON_FINITE:
            return _NON_FINITE[value]
        # The message reaches the CI log, often public: no secret in it.
        raise InvalidInput(f"{where}: {redact_value(key, value)!r} is not a number (key {key!r})")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(
            f"{where}: key {key!r} is {_kind(value)}; expected a number or an object"
        )
    try:
        return float(value)
    except OverflowError:
        raise InvalidInput(f"{where}: {value} is out of range (key {key!r})") from None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    kinds = {str: "a string", list: "a list", dict: "an object"}
    return kinds.get(type(value), f"a {type(value).__name__}")


def _is_dvc_show(doc: dict) -> bool:
    """Whether ``doc`` has the shape of ``dvc metrics show --json``:
    ``{REV: {"data": {FILE: {"data": {...}}}}}``, where a revision or a file DVC could
    not read carries ``"error"``."""

    def shaped(node: Any) -> bool:
        return (
            isinstance(node, dict)
            and bool(node)
            and set(node) <= _DVC_SHOW_KEYS
            and isinstance(node.get("data", {}), dict)
        )

    return bool(doc) and all(
        shaped(rev) and all(shaped(entry) for entry in rev.get("data", {}).values())
        for rev in doc.values()
    )


def _dvc_show_points(label: str, doc: dict) -> Points:
    if "workspace" in doc:
        rev = "workspace"
    elif len(doc) == 1:
        rev = next(iter(doc))
    else:
        revs = ", ".join(repr(rev) for rev in doc)
        raise InvalidInput(
            f"{label}: the DVC output holds revisions {revs}; keep one "
            "(dvc metrics show --json without -a, -T or -A)"
        )
    entry = doc[rev]
    if "error" in entry:
        raise InvalidInput(f"{label}: DVC could not read revision {rev!r}: {_dvc_error(entry)}")
    merged: _Sourced = {}
    for name, file_entry in entry.get("data", {}).items():
        if "error" in file_entry:
            raise InvalidInput(f"{label}: DVC could not read {name!r}: {_dvc_error(file_entry)}")
        points = _object_points(f"{label} ({name})", file_entry.get("data", {}))
        _merge(merged, {key: (name, series) for key, series in points.items()}, f"{label}: ")
    return {key: series for key, (_, series) in merged.items()}


def _dvc_error(entry: dict) -> str:
    error = entry["error"]
    if isinstance(error, dict):
        return str(error.get("msg") or error.get("type") or error)
    return str(error)


def _read_dvc_yaml(path: str) -> _Sourced:
    """The metrics of the files ``dvc.yaml`` lists (top-level ``metrics`` and each
    stage's ``metrics``), paths relative to its folder."""
    doc = _load(path, read_text(path, "metrics file"), ".yaml")
    _require_object(path, doc)
    listed = _dvc_entries(path, doc.get("metrics"), "metrics")
    stages = doc.get("stages") or {}
    if not isinstance(stages, dict):
        raise InvalidInput(f"{path}: stages is {_kind(stages)}; expected an object")
    for name, stage in stages.items():
        if isinstance(stage, dict):
            listed += _dvc_entries(path, stage.get("metrics"), f"stages.{name}.metrics")
    if not listed:
        raise InvalidInput(f"{path} lists no metrics files")
    merged: _Sourced = {}
    # One file may be listed twice (top level and a stage); it is read once.
    for entry in dict.fromkeys(listed):
        child = os.path.join(os.path.dirname(path), entry)
        if os.path.basename(child) == "dvc.yaml":
            raise InvalidInput(f"{path} lists {child!r}, another dvc.yaml")
        if not os.path.exists(child):
            raise InvalidInput(f"{path} lists {child!r}, which does not exist")
        _merge(merged, _read_metrics(child))
    return merged


def _dvc_entries(path: str, entries: Any, where: str) -> list[str]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise InvalidInput(f"{path}: {where} is {_kind(entries)}; expected a list")
    paths = []
    for entry in entries:
        # `- eval.json:` with options below it names its path as the mapping's one key.
        name = next(iter(entry)) if isinstance(entry, dict) and len(entry) == 1 else entry
        if not isinstance(name, str) or not name:
            raise InvalidInput(
                f"{path}: an entry of {where} is {_kind(entry)}; "
                "expected a path or a one-key mapping {path: {...}}"
            )
        paths.append(name)
    return paths


def _csv_points(path: str, text: str, delimiter: str) -> Points:
    """Headerless ``key,value`` rows, ``key,value`` under a ``key,value`` header, or one
    column per metric under a header (with an optional ``step`` column)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            cells = [cell.strip() for cell in row]
            if len(cells) > 1 or any(cells):  # blank lines are not rows
                rows.append((reader.line_num, cells))
    except csv.Error as exc:
        raise InvalidInput(f"{path} line {reader.line_num}: {exc}") from None
    if not rows:
        return {}
    first = rows[0][1]
    if len(first) == 2 and _is_number(first[1]):
        return _key_value_points(path, rows)
    if len(first) == 2 and first[0].lower() in _KEY_HEADERS and first[1].lower() == "value":
        return _key_value_points(path, rows[1:])
    return _wide_points(path, rows[0], rows[1:])


def _key_value_points(path: str, rows: list[tuple[int, list[str]]]) -> Points:
    points: Points = {}
    lines: dict[str, int] = {}
    for line, cells in rows:
        where = f"{path} line {line}"
        if len(cells) != 2:
            raise InvalidInput(f"{where}: expected 2 cells (key, value), found {len(cells)}")
        key = _checked_key(where, cells[0])
        if key in lines:
            raise InvalidInput(f"{where}: key {key!r} already given on line {lines[key]}")
        lines[key] = line
        points[key] = [(0, _cell_number(where, key, cells[1]))]
    return points


def _wide_points(
    path: str, header_row: tuple[int, list[str]], body: list[tuple[int, list[str]]]
) -> Points:
    line, header = header_row
    where = f"{path} line {line}"
    for index, name in enumerate(header):
        if not name:
            raise InvalidInput(f"{where}: column {index + 1} has no name")
    step_columns = [index for index, name in enumerate(header) if name.lower() == "step"]
    if len(step_columns) > 1:
        raise InvalidInput(f"{where}: more than one step column")
    step_column = step_columns[0] if step_columns else None
    skipped = {step_column}
    # dvclive's plots files (timestamp, step, metric) carry the wall clock; not a metric.
    if step_column is not None and "timestamp" in header:
        skipped.add(header.index("timestamp"))
    columns: list[tuple[int, str]] = []
    for index, name in enumerate(header):
        if index not in skipped:
            key = _checked_key(where, name)
            if any(key == known for _, known in columns):
                raise InvalidInput(f"{where}: column {key!r} appears twice")
            columns.append((index, key))
    points: Points = {}
    for row_index, (line, cells) in enumerate(body):
        where = f"{path} line {line}"
        if len(cells) > len(header):
            raise InvalidInput(
                f"{where}: {len(cells)} cells, but the header has {len(header)} columns"
            )
        if step_column is None:
            step = row_index
        else:
            step = _cell_step(where, cells[step_column] if step_column < len(cells) else "")
        for index, key in columns:
            if index < len(cells) and cells[index]:  # an empty cell: not logged at this step
                points.setdefault(key, []).append((step, _cell_number(where, key, cells[index])))
    return points


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _cell_number(where: str, key: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(
            f"{where}: {redact_value(key, text)!r} is not a number (key {key!r})"
        ) from None


def _cell_step(where: str, text: str) -> int:
    try:
        step = int(text)
    except ValueError:
        raise InvalidInput(f"{where}: step {text!r} is not an integer") from None
    return _checked_step(where, step)


def _checked_step(where: str, step: int) -> int:
    if not MIN_STEP <= step <= MAX_STEP:
        raise InvalidInput(f"{where}: step {step} is out of range")
    return step


def _checked_key(where: str, key: str) -> str:
    """``key`` NFC-normalised, as the server stores it; InvalidInput when it refuses it."""
    clean, problem = key_clean(key)
    if clean is None:
        raise InvalidInput(f"{where}: bad key {key!r}: {problem}")
    return clean
