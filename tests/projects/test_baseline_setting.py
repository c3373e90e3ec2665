"""The baseline setting's typed form: one parse from the stored JSON, and back."""

from __future__ import annotations

import pytest

from apps.projects.comparison import Baseline, baseline_json, baseline_parse

STORED = [
    {"mode": "best", "metric": "val/acc", "goal": "max"},
    {"mode": "best", "metric": "loss", "goal": "min"},
    {"mode": "branch", "branch": "main"},
    {"mode": "pinned", "run": "a" * 32},
]


@pytest.mark.parametrize("stored", STORED)
def test_a_stored_setting_reads_back_unchanged(stored):
    assert baseline_json(baseline_parse(stored)) == stored


@pytest.mark.parametrize("empty", [{}, None])
def test_no_setting_is_none_and_stores_as_an_empty_object(empty):
    assert baseline_parse(empty) is None
    assert baseline_json(None) == {}


def test_a_best_run_setting_without_a_goal_means_the_highest():
    assert baseline_parse({"mode": "best", "metric": " val/acc "}) == Baseline(
        "best", metric="val/acc", goal="max"
    )


@pytest.mark.parametrize(
    ("stored", "label", "goals"),
    [
        (STORED[0], "best run by val/acc (max)", {"val/acc": "max"}),
        (STORED[2], "latest finished run on main", {}),
        (STORED[3], "pinned baseline run", {}),
    ],
)
def test_a_setting_says_how_it_chooses_and_which_way_is_better(stored, label, goals):
    setting = baseline_parse(stored)
    assert (setting.label, setting.goals) == (label, goals)
