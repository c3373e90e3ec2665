"""The world the search tests run against, and their helpers.

``make_runs`` builds it (test_search*.py use it through the ``runs`` fixture):

=========  ========  ======  ====  ======  =====  ===========  ======  ========  =========
run        status    author  acc   loss    lr     optimizer    epochs  team      duration
=========  ========  ======  ====  ======  =====  ===========  ======  ========  =========
gpt        FINISHED  alice   -     -       -      -            -       -         7200 s
bert       KILLED    carol   -     0.05    auto   adamw        -       nlp r...  60 s
resnet-a   FINISHED  alice   0.95  0.10    0.001  adam         10      nlp       600 s
resnet-b   FAILED    bob     0.80  NaN     0.01   sgd          9       vision    3600 s
ResNet-C   RUNNING   -       0.90  -       1e-4   Adam         100     NLP       (running)
=========  ========  ======  ====  ======  =====  ===========  ======  ========  =========

Runs are created in that order (so pks ascend down the table), one day apart from
2024-05-01T12:00Z, each started 10 s after it was created. ``outside`` lives in
another project and matches nearly everything; it must never appear.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.core.errors import Invalid
from apps.runs.models import DatasetVersion, MetricSummary, Param, Run, Tag
from apps.runs.search import (
    runs_search,
)
from apps.runs.validation import number_or_none
from tests.factories import UserFactory

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ALL = {"gpt", "bert", "resnet-a", "resnet-b", "ResNet-C"}

RUN_SPECS = [
    {
        "name": "gpt",
        "status": "FINISHED",
        "author": "alice_admin",
        "duration": 7200,
    },
    {
        "name": "bert",
        "status": "KILLED",
        "author": "carol_viewer",
        "group": "nlp",
        "duration": 60,
        "metrics": {"loss": 0.05},
        "params": {"optimizer": "adamw", "lr": "auto"},
        "tags": {"team": "nlp research", "note": "it's"},
        "datasets": {"eval": "d1"},
    },
    {
        "name": "resnet-a",
        "status": "FINISHED",
        "author": "alice_admin",
        "group": "vision",
        "git_branch": "main",
        "git_commit": "abc123",
        "client_id": "sdk-resnet-a",
        "duration": 600,
        "metrics": {
            "acc": 0.95,
            "loss": 0.10,
            "rmse": 0.5,
            "train/loss": 0.2,
            "my key.with dots": 1.0,
        },
        "params": {
            "lr": "0.001",
            "optimizer": "adam",
            "epochs": "10",
            "model_class": "LogisticRegression",
        },
        "tags": {"team": "nlp", "mlflow.runName": "resnet-a", "has space": "yes"},
        "datasets": {"train": "d1"},
    },
    {
        "name": "resnet-b",
        "status": "FAILED",
        "author": "bob_member",
        "group": "vision",
        "git_branch": "main",
        "git_commit": "def456",
        "duration": 3600,
        "metrics": {"acc": 0.80, "loss": None, "rmse": 2.0, "train/loss": 0.5},
        "params": {
            "lr": "0.01",
            "optimizer": "sgd",
            "epochs": "9",
            "model_class": "RandomForest",
        },
        "tags": {"team": "vision"},
        "datasets": {"train": "d2"},
    },
    {
        "name": "ResNet-C",
        "status": "RUNNING",
        "author": None,
        "git_branch": "feature/x",
        "metrics": {"acc": 0.90},
        "params": {"lr": "1e-4", "optimizer": "Adam", "epochs": "100"},
        "tags": {"team": "NLP"},
    },
]


def add_metric(run: Run, key: str, last: float | None) -> None:
    MetricSummary.objects.create(
        run=run, key=key, last=last, min=last, max=last, last_step=0, count=1, last_timestamp=T0
    )


def add_param(run: Run, key: str, value: str) -> None:
    Param.objects.create(run=run, key=key, value=value, value_num=number_or_none(value))


def make_run(project, spec: dict, created_at: datetime) -> Run:
    author = UserFactory(username=spec["author"]) if spec.get("author") else None
    started_at = created_at + timedelta(seconds=10)
    duration = spec.get("duration")
    run = Run.objects.create(
        project=project,
        public_id=f"pid-{spec['name'].lower()}",
        name=spec["name"],
        status=spec["status"],
        author=author,
        group=spec.get("group", ""),
        git_branch=spec.get("git_branch", ""),
        git_commit=spec.get("git_commit", ""),
        client_id=spec.get("client_id"),
        created_at=created_at,
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=duration) if duration is not None else None,
    )
    for key, last in spec.get("metrics", {}).items():
        add_metric(run, key, last)
    for key, value in spec.get("params", {}).items():
        add_param(run, key, value)
    for key, value in spec.get("tags", {}).items():
        Tag.objects.create(run=run, key=key, value=value)
    for name, digest in spec.get("datasets", {}).items():
        DatasetVersion.objects.create(run=run, name=name, digest=digest)
    return run


def make_runs(project, other_project) -> dict[str, Run]:
    runs = {
        spec["name"]: make_run(project, spec, T0 + timedelta(days=i))
        for i, spec in enumerate(RUN_SPECS)
    }
    outside = {
        **RUN_SPECS[2],
        "name": "outside",
        "status": "FAILED",
        "author": "bob_member",
        "metrics": {"acc": 0.5, "loss": 0.07, "rmse": 0.1},
        "tags": {"team": "nlp", "note": "it's"},
    }
    make_run(other_project, outside, T0 + timedelta(days=3))
    return runs


def names(project, filter_text: str) -> set[str]:
    page, _ = runs_search(
        queryset=Run.objects.filter(project=project), filter=filter_text, page_size=1000
    )
    return {run.name for run in page}


def headline(exc: pytest.ExceptionInfo[Invalid]) -> str:
    """The first line of the error: the sentence without the caret excerpt."""
    return exc.value.message.splitlines()[0]
