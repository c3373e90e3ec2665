"""The metrics files ``kiroku ci report`` records: JSON and YAML objects (nested keys
joined with ``/``; dvclive's ``metrics.json`` and ``dvc metrics show --json`` output
are recognised), CSV/TSV files (:mod:`kiroku.ci.metrics_csv`), and the files a
``dvc.yaml`` lists. The format is chosen by the file's extension."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

from kiroku.ci.files import (
    Points,
    checked_key,
    checked_step,
    flat_items,
    kind_of,
    load_document,
    read_text,
    require_object,
)
from kiroku.ci.metrics_csv import csv_points
from kiroku.errors import InvalidInput
from kiroku.redaction import redact_value

METRICS_SUFFIXES = (".json", ".yaml", ".yml", ".csv", ".tsv")
# The spellings the server uses for non-finite numbers; JSON has no literal for them.
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
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
        points = csv_points(path, text, "\t" if suffix == ".tsv" else ",")
    else:
        doc = load_document(path, text, suffix)
        require_object(path, doc)
        points = _dvc_show_points(path, doc) if _is_dvc_show(doc) else _object_points(path, doc)
    if not points:
        raise InvalidInput(f"metrics file {path!r} has no metrics")
    return {key: (path, series) for key, series in points.items()}


def _object_points(label: str, doc: dict[Any, Any]) -> Points:
    """One object's metrics at step 0, or at the step of dvclive's top-level ``step``."""
    step = 0
    if type(doc.get("step")) is int:
        step = checked_step(label, doc["step"])
        doc = {key: value for key, value in doc.items() if key != "step"}
    points: Points = {}
    for raw_key, value in flat_items(label, doc):
        key = checked_key(label, raw_key)
        if key in points:
            raise InvalidInput(f"{label}: key {key!r} appears twice")
        points[key] = [(step, _number(label, key, value))]
    return points


def _number(where: str, key: str, value: Any) -> float:
    if isinstance(value, str):
        if value in _NON_FINITE:
            return _NON_FINITE[value]
        # The message reaches the CI log, often public: no secret in it.
        raise InvalidInput(f"{where}: {redact_value(key, value)!r} is not a number (key {key!r})")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(
            f"{where}: key {key!r} is {kind_of(value)}; expected a number or an object"
        )
    try:
        return float(value)
    except OverflowError:
        raise InvalidInput(f"{where}: {value} is out of range (key {key!r})") from None


def _is_dvc_show(doc: dict[Any, Any]) -> bool:
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


def _dvc_show_points(label: str, doc: dict[Any, Any]) -> Points:
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


def _dvc_error(entry: dict[Any, Any]) -> str:
    error = entry["error"]
    if isinstance(error, dict):
        return str(error.get("msg") or error.get("type") or error)
    return str(error)


def _read_dvc_yaml(path: str) -> _Sourced:
    """The metrics of the files ``dvc.yaml`` lists (top-level ``metrics`` and each
    stage's ``metrics``), paths relative to its folder."""
    doc = load_document(path, read_text(path, "metrics file"), ".yaml")
    require_object(path, doc)
    listed = _dvc_entries(path, doc.get("metrics"), "metrics")
    stages = doc.get("stages") or {}
    if not isinstance(stages, dict):
        raise InvalidInput(f"{path}: stages is {kind_of(stages)}; expected an object")
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
        raise InvalidInput(f"{path}: {where} is {kind_of(entries)}; expected a list")
    paths = []
    for entry in entries:
        # `- eval.json:` with options below it names its path as the mapping's one key.
        name = next(iter(entry)) if isinstance(entry, dict) and len(entry) == 1 else entry
        if not isinstance(name, str) or not name:
            raise InvalidInput(
                f"{path}: an entry of {where} is {kind_of(entry)}; "
                "expected a path or a one-key mapping {path: {...}}"
            )
        paths.append(name)
    return paths
