"""Fixtures for the registry tests: a run of ``project`` whose ``model/`` folder holds
two complete files."""

from __future__ import annotations

import pytest

from apps.runs.models import Run
from tests.registry.helpers import artifact


@pytest.fixture
def run(project, member) -> Run:
    run = Run.objects.create(project=project, name="resnet50", author=member)
    artifact(run, "model/weights.pt", b"weights")
    artifact(run, "model/config/params.json", b'{"depth": 50}')
    artifact(run, "log.txt", b"training log")
    return run
