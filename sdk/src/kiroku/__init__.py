"""Kiroku's Python client.

    import kiroku
    with kiroku.init(project="vision", config={"lr": 3e-4}, datasets={"train": "data"}) as run:
        for step in range(steps):
            run.log({"loss": loss})
        run.summary["best_acc"] = best
        run.log_model("model/", "resnet", aliases=["candidate"])

    kiroku.Api().model("resnet@champion", project="vision").download("model/")

See ``kiroku.init`` (recording), ``kiroku.Api`` (reading back, the model registry) and
the ``kiroku`` command (login, sync, runs, status, models).
"""

from kiroku.api import Api, ApiRun, Runs
from kiroku.errors import (
    AuthError,
    ConfigError,
    IntegrityError,
    InvalidInput,
    KirokuError,
    NotFound,
    Unreachable,
)
from kiroku.registry import ModelVersion, RegisteredModel
from kiroku.run import Run
from kiroku.settings import Settings
from kiroku.start import init
from kiroku.version import __version__

__all__ = [
    "Api",
    "ApiRun",
    "AuthError",
    "ConfigError",
    "IntegrityError",
    "InvalidInput",
    "KirokuError",
    "ModelVersion",
    "NotFound",
    "RegisteredModel",
    "Run",
    "Runs",
    "Settings",
    "Unreachable",
    "__version__",
    "init",
]
