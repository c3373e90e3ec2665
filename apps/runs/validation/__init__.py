"""Fast, hand-written validation of what clients send about runs.

Not a serializer per item: a log batch carries up to 10,000 points and is checked
whole before anything is written. Every error names the field (with the item's
index) and the limit.
"""

from apps.runs.validation.batch import (
    DatasetIn,
    LogBatchIn,
    PointIn,
    datasets_clean,
    key_clean,
    log_batch_clean,
    metrics_clean,
    number_or_none,
    params_clean,
    summary_clean,
    tags_clean,
    value_as_text,
)
from apps.runs.validation.records import (
    GitIn,
    RunCreateIn,
    RunFinishIn,
    RunUpdateIn,
    remote_strip_credentials,
    run_create_clean,
    run_finish_clean,
    run_update_clean,
)

__all__ = [
    "DatasetIn",
    "GitIn",
    "LogBatchIn",
    "PointIn",
    "RunCreateIn",
    "RunFinishIn",
    "RunUpdateIn",
    "datasets_clean",
    "key_clean",
    "log_batch_clean",
    "metrics_clean",
    "number_or_none",
    "params_clean",
    "remote_strip_credentials",
    "run_create_clean",
    "run_finish_clean",
    "run_update_clean",
    "summary_clean",
    "tags_clean",
    "value_as_text",
]
