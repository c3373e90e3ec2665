"""The params file ``kiroku ci report`` records: a JSON or YAML object whose values
become the run's params, each as the text the server stores, secrets redacted."""

from __future__ import annotations

import os

from kiroku.ci.files import checked_key, flat_items, load_document, read_text, require_object
from kiroku.errors import InvalidInput
from kiroku.keys import MAX_PARAM_VALUE_LENGTH, text_value
from kiroku.redaction import redact_value

PARAMS_SUFFIXES = (".json", ".yaml", ".yml")


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
    doc = load_document(path, read_text(path, "params file"), suffix)
    require_object(path, doc)
    params: dict[str, str] = {}
    for raw_key, value in flat_items(path, doc, keep_empty=True):
        key = checked_key(path, raw_key)
        text, problem = text_value(value, max_length=MAX_PARAM_VALUE_LENGTH)
        if text is None:
            raise InvalidInput(f"{path}: param {key!r}: {problem}")
        if key in params:
            raise InvalidInput(f"{path}: key {key!r} appears twice")
        params[key] = redact_value(key, text)[:MAX_PARAM_VALUE_LENGTH]
    if not params:
        raise InvalidInput(f"params file {path!r} has no params")
    return params
