"""apps.portal.views.run.facts: what the run page says, from what clients recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.portal.views.run.facts import (
    Fact,
    Gpu,
    chart_groups,
    ci_facts,
    environment_facts,
    human_size,
    key_prefix,
    run_duration,
    value_text,
)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (None, "—"),
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (5 * 1024**3, "5.0 GiB"),
        (3 * 1024**6, "3072.0 PiB"),
    ],
)
def test_human_size(size, text):
    assert human_size(size) == text


def test_run_duration():
    start = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert run_duration(start, start + timedelta(seconds=4.9), start) == "4s"
    assert run_duration(start, start + timedelta(seconds=75), start) == "1m 15s"
    assert run_duration(start, start + timedelta(hours=26, seconds=3), start) == "26h 00m 03s"
    assert run_duration(start, None, start + timedelta(minutes=2)) == "2m 00s so far"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (3, "3"),
        (0.1234567891, "0.123457"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
        ("<b>", "<b>"),  # escaped by the template
        ({"b": 1, "a": [1, 2]}, '{"a": [1, 2], "b": 1}'),
    ],
)
def test_value_text(value, text):
    assert value_text(value) == text


def test_environment_facts_from_what_the_sdk_records():
    env = environment_facts(
        {
            "python": "3.11.7",
            "packages": ["a==1", "b==2"],
            "os": "Linux",
            "cpu_count": 8,
            "memory": 16 * 1024**3,
            "gpus": [{"name": "A100", "memory_total": 40 * 1024**3, "driver": "535"}],
            "command": ["python", "train.py", "--name", "a b"],
        }
    )
    assert env.recorded is True
    assert (env.python, env.os, env.cpu_count, env.memory) == ("3.11.7", "Linux", "8", "16.0 GiB")
    assert env.command == "python train.py --name 'a b'"
    assert env.packages == ["a==1", "b==2"]
    assert env.gpus == [Gpu("A100", "40.0 GiB", "535")]


def test_environment_facts_tolerate_odd_shapes():
    env = environment_facts(
        {"command": "python x.py", "gpus": ["Tesla T4", {"driver": "1"}], "packages": "x"}
    )
    assert env.command == "python x.py"
    assert env.gpus == [Gpu("Tesla T4"), Gpu("GPU", "", "1")]
    assert env.packages == []
    assert environment_facts(None).recorded is False
    assert environment_facts({}).recorded is False


def test_ci_facts_in_a_stable_order_and_links_only_for_web_urls():
    assert ci_facts({"pr": 4, "provider": "github", "workflow_url": "https://ci/1", "ref": ""}) == [
        Fact("Provider", "github"),
        Fact("Workflow run", "https://ci/1", "https://ci/1"),
        Fact("Pull request", "4"),
    ]
    assert ci_facts({"workflow_url": "javascript:alert(1)"}) == [
        Fact("Workflow run", "javascript:alert(1)")
    ]
    assert ci_facts(None) == []


@pytest.mark.parametrize(
    ("key", "prefix"),
    [
        ("train/loss", "train"),
        ("train/a/b", "train"),
        ("system/gpu.0.utilization_percent", "system"),
        ("loss", "other"),
        ("/odd", "other"),
        ("other/x", "other"),
    ],
)
def test_key_prefix(key, prefix):
    assert key_prefix(key) == prefix


def test_chart_groups_named_first_then_system_then_other():
    # In any order: the database's collation may not sort keys as the page does.
    groups = chart_groups(
        [
            ("zz/x", 2.0, 1),
            ("train/loss", 0.5, 10),
            ("acc", 1.0, 3),
            ("system/cpu_percent", float("inf"), 1),
            ("eval/acc", None, 2),
        ]
    )
    assert [(g.prefix, g.title, [k.key for k in g.keys]) for g in groups] == [
        ("eval", "eval/", ["eval/acc"]),
        ("train", "train/", ["train/loss"]),
        ("zz", "zz/", ["zz/x"]),
        ("system", "system/ (CPU, memory, GPUs)", ["system/cpu_percent"]),
        ("other", "other", ["acc"]),
    ]
    assert [k.last for g in groups for k in g.keys] == ["NaN", "0.5", "2", "Infinity", "1"]
