"""Metrics from CSV and TSV files: ``key,value`` rows (with or without a ``key,value``
header), or one column per metric under a header, with an optional ``step`` column
(dvclive's plots files included)."""

from __future__ import annotations

import csv
import io

from kiroku.ci.files import Points, checked_key, checked_step
from kiroku.errors import InvalidInput
from kiroku.redaction import redact_value

_KEY_HEADERS = {"key", "metric", "name"}


def csv_points(path: str, text: str, delimiter: str) -> Points:
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
        key = checked_key(where, cells[0])
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
            key = checked_key(where, name)
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
    return checked_step(where, step)
