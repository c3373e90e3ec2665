"""Example requests and responses for the OpenAPI schema."""

from drf_spectacular.utils import OpenApiExample

RUN_ID = "9f1c2e4b7a8d4e6f9a0b1c2d3e4f5a6b"

RUN_BODY = {
    "id": RUN_ID,
    "url": f"http://127.0.0.1:8000/projects/vision/runs/{RUN_ID}",
    "project": "vision",
    "name": "resnet50-lr3e-4",
    "group": "",
    "parent_id": None,
    "client_id": "c3VwZXItcnVu",
    "status": "RUNNING",
    "author": "alice",
    "created_at": "2026-01-01T00:00:00Z",
    "started_at": "2026-01-01T00:00:00Z",
    "ended_at": None,
    "heartbeat_at": "2026-01-01T00:00:00Z",
    "duration": None,
    "notes": "",
    "git": {
        "commit": "4f2a9c1",
        "branch": "main",
        "remote": "https://github.com/acme/vision.git",
        "dirty": False,
        "diff_truncated": False,
        "diff": "",
    },
    "environment": {"python": "3.11.7", "os": "Linux", "cpu_count": 8},
    "ci": {},
    "params": {"lr": "0.0003", "batch_size": "64"},
    "tags": {"team": "perception"},
    "metrics": {
        "loss": {
            "key": "loss",
            "last": 0.31,
            "min": 0.3,
            "max": 2.1,
            "count": 1000,
            "last_step": 999,
            "last_timestamp": "2026-01-01T01:00:00Z",
        }
    },
    "deleted_at": None,
    "summary": {"best_acc": 0.93},
    "datasets": [
        {
            "name": "train",
            "uri": "data/train",
            "digest": "sha256:ab12…",
            "size": 1048576,
            "file_count": 120,
            "source": "local",
        }
    ],
}

RUN_CREATE_REQUEST = OpenApiExample(
    "create",
    request_only=True,
    value={
        "name": "resnet50-lr3e-4",
        "client_id": "c3VwZXItcnVu",
        "params": {"lr": 0.0003, "batch_size": 64},
        "tags": {"team": "perception"},
        "git": {"commit": "4f2a9c1", "branch": "main", "dirty": False},
        "environment": {"python": "3.11.7", "os": "Linux", "cpu_count": 8},
        "datasets": [{"name": "train", "uri": "data/train"}],
    },
)
RUN_RESPONSE = OpenApiExample("run", response_only=True, value=RUN_BODY)
RUN_SEARCH_RESPONSE = OpenApiExample(
    "runs",
    response_only=True,
    value={
        "results": [{**RUN_BODY, "truncated": {"params": False, "metrics": False, "tags": False}}],
        "next": "eyJ…",
    },
)
LOG_REQUEST = OpenApiExample(
    "batch",
    request_only=True,
    value={
        "batch_id": "b-000017",
        "metrics": [
            {"key": "loss", "value": 0.31, "step": 17},
            {"key": "eval/acc", "value": "NaN", "step": 17, "timestamp": "2026-01-01T00:17:00Z"},
        ],
        "params": {"optimizer": "adam"},
        "tags": {"stage": "warmup"},
        "summary": {"best_acc": 0.9},
    },
)
LOG_RESPONSE = OpenApiExample(
    "stored",
    response_only=True,
    value={
        "run_id": RUN_ID,
        "batch_id": "b-000017",
        "status": "RUNNING",
        "stored": {
            "metrics": 2,
            "metrics_replaced": 0,
            "metrics_unchanged": 0,
            "params": 1,
            "tags": 1,
            "summary": 1,
            "datasets": 0,
        },
    },
)
