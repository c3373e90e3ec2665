"""Fixtures for the runs tests."""

from __future__ import annotations

import pytest

from apps.runs.models import Run
from tests.runs.search_world import make_runs


@pytest.fixture
def runs(project, other_project) -> dict[str, Run]:
    """The search world (tests/runs/search_world.py)."""
    return make_runs(project, other_project)
