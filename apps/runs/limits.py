"""Ingestion limits. Each is documented in the README and the OpenAPI schema and
tested at the limit and one past it."""

MAX_METRICS_PER_BATCH = 10_000
MAX_PARAMS_PER_BATCH = 1_000
MAX_TAGS_PER_BATCH = 1_000
# In all, whatever the batches: checked under the run's lock (apps.runs.recording).
MAX_PARAMS_PER_RUN = 10_000
MAX_TAGS_PER_RUN = 10_000
MAX_SUMMARY_PER_BATCH = 1_000
MAX_DATASETS_PER_BATCH = 100
MAX_BODY_BYTES = 4 * 1024 * 1024  # enforced by apps.core.parsers before parsing
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6_000
MAX_TAG_VALUE_LENGTH = 5_000
MAX_SUMMARY_VALUE_BYTES = 64 * 1024
MAX_NAME_LENGTH = 250
MAX_NOTES_LENGTH = 100_000
MAX_GIT_DIFF_BYTES = 1024 * 1024  # longer diffs are truncated and flagged
MAX_ENVIRONMENT_BYTES = 1024 * 1024
MAX_CI_BYTES = 16 * 1024
MAX_PACKAGES = 10_000
BATCH_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
CLIENT_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
# float8 steps are stored as bigint; keep them in its range.
MIN_STEP = -(2**63)
MAX_STEP = 2**63 - 1
# Dataset sizes and file counts are stored as bigint too.
MAX_BIGINT = 2**63 - 1
