"""The events a rule can listen to, and which domain events feed them.

A rule event is a stored value (``Rule.event``, the API's ``event``) with its own
names, not a domain event type: some rule events are not domain events at all
(``metric.threshold``, ``run.new_best``), and renaming a domain event must not
change what the API accepts or what existing rules hold.
"""

from __future__ import annotations

from apps.events import registry as domain_events

RUN_FINISHED = "run.finished"
RUN_FAILED = "run.failed"
RUN_KILLED = "run.killed"
RUN_CRASHED = "run.crashed"
METRIC_THRESHOLD = "metric.threshold"
RUN_NEW_BEST = "run.new_best"
COMMENT_MENTION = "comment.mention"
CI_REPORTED = "ci.reported"
MODEL_VERSION_CREATED = "model.version_created"
MODEL_ALIAS_MOVED = "model.alias_moved"
MODEL_PROMOTION_REQUESTED = "model.promotion_requested"
MODEL_PROMOTION_DECIDED = "model.promotion_decided"

RULE_EVENTS: tuple[str, ...] = (
    RUN_FINISHED,
    RUN_FAILED,
    RUN_KILLED,
    RUN_CRASHED,
    METRIC_THRESHOLD,
    RUN_NEW_BEST,
    COMMENT_MENTION,
    CI_REPORTED,
    MODEL_VERSION_CREATED,
    MODEL_ALIAS_MOVED,
    MODEL_PROMOTION_REQUESTED,
    MODEL_PROMOTION_DECIDED,
)

# Run-ending events: the message is a run summary.
RUN_END_EVENTS = (RUN_FINISHED, RUN_FAILED, RUN_KILLED, RUN_CRASHED)

# Model registry events: the message is about a model version, its run compared with
# the run of the version it replaces.
MODEL_EVENTS = (
    MODEL_VERSION_CREATED,
    MODEL_ALIAS_MOVED,
    MODEL_PROMOTION_REQUESTED,
    MODEL_PROMOTION_DECIDED,
)

# Domain event type -> the rule events it is evaluated for. Threshold rules are also
# evaluated when a run ends, so the last values logged before the end count.
RULES_FOR_DOMAIN_EVENT: dict[str, tuple[str, ...]] = {
    domain_events.RUN_FINISHED: (RUN_FINISHED, RUN_NEW_BEST, METRIC_THRESHOLD),
    domain_events.RUN_FAILED: (RUN_FAILED, METRIC_THRESHOLD),
    domain_events.RUN_KILLED: (RUN_KILLED, METRIC_THRESHOLD),
    domain_events.RUN_CRASHED: (RUN_CRASHED, METRIC_THRESHOLD),
    domain_events.RUN_METRICS_UPDATED: (METRIC_THRESHOLD,),
    domain_events.COMMENT_MENTION: (COMMENT_MENTION,),
    domain_events.CI_REPORTED: (CI_REPORTED,),
    domain_events.MODEL_VERSION_CREATED: (MODEL_VERSION_CREATED,),
    domain_events.MODEL_ALIAS_MOVED: (MODEL_ALIAS_MOVED,),
    domain_events.MODEL_PROMOTION_REQUESTED: (MODEL_PROMOTION_REQUESTED,),
    domain_events.MODEL_PROMOTION_DECIDED: (MODEL_PROMOTION_DECIDED,),
}

THRESHOLD_OPERATORS = ("<", "<=", ">", ">=")

EVENT_TITLES = {
    RUN_FINISHED: "Run finished",
    RUN_FAILED: "Run failed",
    RUN_KILLED: "Run killed",
    RUN_CRASHED: "Run crashed",
    METRIC_THRESHOLD: "Metric threshold crossed",
    RUN_NEW_BEST: "New best run",
    COMMENT_MENTION: "Mentioned in a comment",
    CI_REPORTED: "CI report",
    MODEL_VERSION_CREATED: "New model version",
    MODEL_ALIAS_MOVED: "Model alias moved",
    MODEL_PROMOTION_REQUESTED: "Promotion requested",
    MODEL_PROMOTION_DECIDED: "Promotion decided",
}
