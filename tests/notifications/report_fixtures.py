"""A realistic ``Report`` for the message builders' tests: a finished run compared
with the best run by val/acc, fixed datetimes and ids."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from apps.notifications.report_content import (
    Mention,
    MetricLine,
    ModelRef,
    ParamChange,
    Report,
    RunRef,
)

BASE_URL = "https://kiroku.example.com"
PROJECT_URL = f"{BASE_URL}/projects/vision"
RUN_URL = f"{PROJECT_URL}/runs/r7f3a9c2e"
BASELINE_URL = f"{PROJECT_URL}/runs/r51d0e2b4"
COMPARE_URL = f"{PROJECT_URL}/compare?runs=r7f3a9c2e&runs=r51d0e2b4"
STARTED_AT = datetime(2025, 3, 14, 9, 30, 0, tzinfo=UTC)
ENDED_AT = STARTED_AT + timedelta(hours=1, minutes=2, seconds=5)


def fixture_report(**overrides: Any) -> Report:
    """The finished run ``resnet50-augmix-lr3e-4`` against its baseline; any field
    can be replaced by a keyword argument."""
    report = Report(
        delivery_id=42,
        key="7:1234",
        event="run.finished",
        title="Run finished",
        project_slug="vision",
        project_name="Vision",
        project_url=PROJECT_URL,
        run=RunRef(public_id="r7f3a9c2e", name="resnet50-augmix-lr3e-4", url=RUN_URL),
        status="finished",
        started_at=STARTED_AT,
        ended_at=ENDED_AT,
        author="alice_admin",
        branch="feature/augmix",
        commit="3f9c2ab",
        tags=(("dataset", "imagenet-1k"), ("arch", "resnet50"), ("sweep", "lr-3")),
        metrics=(
            MetricLine("val/acc", 0.7712, 0.7598, "max"),
            MetricLine("val/loss", 0.9124, 0.9541, "min"),
            MetricLine("train/throughput", 1830.5, 1911.0, None),
            MetricLine("epoch", 90.0, 90.0, None),
        ),
        baseline=RunRef(public_id="r51d0e2b4", name="resnet50-baseline", url=BASELINE_URL),
        baseline_label="best run by val/acc",
        param_changes=(
            ParamChange("lr", "0.0003", "0.001"),
            ParamChange("augmix.severity", "3", None),
            ParamChange("batch_size", "256", "128"),
            ParamChange("mixup", "", "0.2"),
        ),
        params=(
            ("arch", "resnet50"),
            ("augmix.severity", "3"),
            ("batch_size", "256"),
            ("epochs", "90"),
            ("lr", "0.0003"),
            ("optimizer", "sgd"),
        ),
        compare_url=COMPARE_URL,
        created_at=ENDED_AT,
    )
    return dataclasses.replace(report, **overrides)


def crash_report(**overrides: Any) -> Report:
    """The same run crashed after 12 minutes, with no baseline found."""
    crashed = {
        "key": "8:1240",
        "event": "run.crashed",
        "title": "Run crashed",
        "status": "crashed",
        "ended_at": STARTED_AT + timedelta(minutes=12, seconds=3),
        "metrics": (MetricLine("val/acc", 0.4121, None, "max"), MetricLine("train/loss", 2.31)),
        "baseline": None,
        "baseline_label": "",
        "param_changes": (),
        "compare_url": "",
        **overrides,
    }
    return fixture_report(**crashed)


def mention_report(**overrides: Any) -> Report:
    """bob_member mentions alice_admin and carol_viewer in a comment on the run."""
    mentioned = {
        "key": "9:1250",
        "event": "comment.mention",
        "title": "Mentioned in a comment",
        "metrics": (),
        "param_changes": (),
        "baseline": None,
        "baseline_label": "",
        "compare_url": "",
        "detail": "@alice_admin @carol_viewer val/acc jumped 1.1 points with AugMix & lr 3e-4.\n"
        "Can we rerun with 3 seeds before merging?",
        "detail_url": f"{RUN_URL}#comment-88",
        "mentions": (
            Mention("alice_admin", "alice_admin@example.com"),
            Mention("carol_viewer", "carol_viewer@example.com"),
        ),
        **overrides,
    }
    return fixture_report(**mentioned)


def alias_move_report(**overrides: Any) -> Report:
    """An approved promotion moved ``resnet@champion`` from v3 to v4: the run of v4
    compared with the run of v3. The reason holds characters mrkdwn must escape."""
    moved = {
        "key": "11:1300",
        "event": "model.alias_moved",
        "title": "resnet@champion → v4",
        "baseline_label": "v3, what @champion pointed at before",
        "param_changes": (ParamChange("lr", "0.0003", "0.001"),),
        "model": ModelRef(
            name="resnet",
            version=4,
            alias="champion",
            replaces=3,
            actor="alice_admin",
            reason="val/acc +1.1 points & val/loss <0.92 on the holdout set.\nShip it.",
        ),
        **overrides,
    }
    return fixture_report(**moved)
