"""A run's metric keys and one key's history as JSON answers, shared by the API and
the pages that show a run without it (share links)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from apps.core.errors import Invalid
from apps.core.floats import float_out
from apps.core.views import int_param
from apps.runs import limits, selectors
from apps.runs.columns import SUMMARY_FIELDS, metric_summary_out
from apps.runs.models import Run
from apps.runs.validation import key_clean


def metric_keys_answer(*, run: Run) -> dict[str, Any]:
    """Every key of the run with its summary (last, min, max, count, last step)."""
    summaries = selectors.run_metric_summaries(run=run).values(*SUMMARY_FIELDS)
    return {"results": [metric_summary_out(s) for s in summaries], "next": None}


def metric_history_answer(*, run: Run, params: Mapping[str, str], path: str) -> dict[str, Any]:
    """One key's points as the history endpoint answers them, from its query
    parameters (key, max_points, min_step, max_step, after_step, page_size). Raises
    Invalid naming a bad parameter; this is where they are checked, once."""
    raw_key = params.get("key")
    if raw_key is None:
        raise Invalid("key is required", field="key")
    key = key_clean(raw_key, field="key")
    bounds = {
        name: int_param(
            params, name, default=None, minimum=limits.MIN_STEP, maximum=limits.MAX_STEP
        )
        for name in ("min_step", "max_step", "after_step")
    }
    history = selectors.run_metric_history(
        run=run,
        key=key,
        max_points=int_param(
            params,
            "max_points",
            default=None,
            minimum=selectors.MIN_DOWNSAMPLED_POINTS,
            maximum=selectors.MAX_DOWNSAMPLED_POINTS,
        ),
        page_size=int_param(
            params, "page_size", default=1000, minimum=1, maximum=selectors.MAX_HISTORY_PAGE
        ),
        **bounds,
    )
    results = [
        {
            "step": p["step"],
            "value": float_out(p["value"]) if p["value"] is not None else "NaN",
            "timestamp": p["timestamp"],
        }
        for p in history.points
    ]
    next_link = None
    if history.next_after_step is not None:
        query = {k: v for k, v in params.items() if k != "after_step"}
        query["after_step"] = str(history.next_after_step)
        next_link = f"{path}?{urlencode(query)}"
    return {
        "key": key,
        "downsampled": history.downsampled,
        "total": history.total,
        "results": results,
        "next": next_link,
    }
