"""The metrics and params files ``kiroku ci report`` records, read and checked against
the server's rules before anything is sent.

Metrics come from JSON or YAML objects (nested keys joined with ``/``; dvclive's
``metrics.json`` and ``dvc metrics show --json`` output are recognised), from CSV/TSV
files (``key,value`` rows or one column per metric), or from the files a ``dvc.yaml``
lists. The format is chosen by the file's extension. Every problem raises
:class:`~kiroku.errors.InvalidInput` with a message naming the file (as the caller
spelled it) and the line or key, so the CLI can print it and exit 2.

The readers live by concept: :mod:`kiroku.ci.metrics` (JSON, YAML, DVC),
:mod:`kiroku.ci.metrics_csv` (CSV/TSV), :mod:`kiroku.ci.params`, and
:mod:`kiroku.ci.files` (reading a file, and the checks they share). This module
gathers what the rest of ``kiroku ci`` uses.
"""

from __future__ import annotations

from kiroku.ci.files import Points, read_bytes, read_text
from kiroku.ci.metrics import METRICS_SUFFIXES, read_metrics_files
from kiroku.ci.params import PARAMS_SUFFIXES, read_params_file

__all__ = [
    "METRICS_SUFFIXES",
    "PARAMS_SUFFIXES",
    "Points",
    "read_bytes",
    "read_metrics_files",
    "read_params_file",
    "read_text",
]
