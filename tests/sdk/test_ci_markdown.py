"""A comparison rendered as the job summary / PR comment (markdown) and as the job
log (plain text): exact output for each verdict, numbers, and hostile names."""

# The output writes changes with a real minus sign (U+2212), as the server's messages do.
# ruff: noqa: RUF001

from __future__ import annotations

import copy

import pytest
from kiroku.ci.markdown import (
    console_text,
    format_change,
    format_number,
    md_text,
    summary_markdown,
    text_cut,
)

RUN_URL = "http://127.0.0.1:8000/projects/vision/runs/9f9f"
BASE_URL = "http://127.0.0.1:8000/projects/vision/runs/abab"
COMPARE_URL = "http://127.0.0.1:8000/projects/vision/compare?runs=abab&runs=9f9f"

REGRESSION = {
    "run": {"id": "9f" * 16, "name": "ci-eval", "url": RUN_URL},
    "baseline": {
        "id": "ab" * 16,
        "name": "main-eval",
        "url": BASE_URL,
        "branch": "main",
        "commit": "abc123",
    },
    "baseline_spec": "branch:main",
    "baseline_label": "latest finished run on main",
    "compare_url": COMPARE_URL,
    "metrics": [
        {
            "key": "eval/acc",
            "value": 0.91,
            "baseline": 0.93,
            "delta": -0.02,
            "percent": -2.1505,
            "goal": "max",
            "better": False,
            "violated": True,
        },
        {
            "key": "eval/f1",
            "value": 0.8,
            "baseline": 0.788,
            "delta": 0.012,
            "percent": 1.5228,
            "goal": "max",
            "better": True,
            "violated": False,
        },
        {
            "key": "eval/loss",
            "value": 0.3,
            "baseline": None,
            "delta": None,
            "percent": None,
            "goal": "min",
            "better": None,
            "violated": False,
        },
    ],
    "gates": [
        {
            "expression": "eval/acc<-0.01",
            "metric": "eval/acc",
            "violated": True,
            "reason": "eval/acc changed by -0.02, beyond the gate < -0.01",
        },
        {
            "expression": "eval/f1<-0.01",
            "metric": "eval/f1",
            "violated": False,
            "reason": "eval/f1 changed by +0.012",
        },
    ],
    "regressed": True,
}

JUNIT = {
    "tests": 124,
    "passed": 120,
    "failures": 1,
    "errors": 0,
    "skipped": 3,
    "time": 12.34,
    "failed": ["tests.test_io.test_reads_utf8"],
    "failed_total": 1,
}


def _passing() -> dict:
    comparison = copy.deepcopy(REGRESSION)
    comparison["regressed"] = False
    comparison["metrics"] = comparison["metrics"][1:]
    comparison["gates"] = comparison["gates"][1:]
    return comparison


def _no_baseline() -> dict:
    comparison = copy.deepcopy(REGRESSION)
    comparison.update(baseline=None, baseline_label="", compare_url="", regressed=False)
    comparison["gates"] = []
    for line in comparison["metrics"]:
        line.update(baseline=None, delta=None, percent=None, better=None, violated=False)
    return comparison


def test_regression_markdown():
    assert summary_markdown(
        REGRESSION, junit=JUNIT, title="ci-eval", notes=["3 artifacts uploaded"]
    ) == (
        "### ❌ Kiroku: regression in ci-eval\n"
        "\n"
        f"Run [ci-eval]({RUN_URL}) · [Compare]({COMPARE_URL}) · "
        f"Baseline: latest finished run on main, [main-eval]({BASE_URL})\n"
        "\n"
        "| Metric | Baseline | This run | Change | Gate |\n"
        "|:--|--:|--:|:--|:--|\n"
        "| eval/acc | 0.93 | 0.91 | −0.02 (−2.2%) ▼ worse | ❌ eval/acc&lt;-0.01 |\n"
        "| eval/f1 | 0.788 | 0.8 | +0.012 (+1.5%) ▲ better | ✅ |\n"
        "| eval/loss | — | 0.3 | | |\n"
        "\n"
        "**Failed gates**\n"
        "\n"
        "- ❌ eval/acc&lt;-0.01: eval/acc changed by -0.02, beyond the gate &lt; -0.01\n"
        "\n"
        "Tests: 120 passed, 1 failed, 0 errors, 3 skipped in 12.3 s\n"
        "\n"
        "**Failing tests**\n"
        "\n"
        "- tests.test\\_io.test\\_reads\\_utf8\n"
        "\n"
        "**Notes**\n"
        "\n"
        "- 3 artifacts uploaded\n"
    )


def test_regression_console_text():
    assert console_text(REGRESSION, junit=JUNIT) == (
        "Kiroku: regression in ci-eval\n"
        f"Run:       {RUN_URL}\n"
        f"Compare:   {COMPARE_URL}\n"
        f"Baseline:  latest finished run on main, main-eval ({BASE_URL})\n"
        "\n"
        "Metric     Baseline  This run  Change                   Gate\n"
        "eval/acc   0.93      0.91      −0.02 (−2.2%) ▼ worse    FAIL eval/acc<-0.01\n"
        "eval/f1    0.788     0.8       +0.012 (+1.5%) ▲ better  pass\n"
        "eval/loss  —         0.3\n"
        "\n"
        "Failed gates:\n"
        "  - eval/acc<-0.01: eval/acc changed by -0.02, beyond the gate < -0.01\n"
        "\n"
        "Tests: 120 passed, 1 failed, 0 errors, 3 skipped in 12.3 s\n"
        "Failing tests:\n"
        "  - tests.test_io.test_reads_utf8\n"
    )


def test_passing_markdown_without_junit_or_notes():
    assert summary_markdown(_passing(), junit=None, title="ci-eval") == (
        "### ✅ Kiroku: ci-eval passed\n"
        "\n"
        f"Run [ci-eval]({RUN_URL}) · [Compare]({COMPARE_URL}) · "
        f"Baseline: latest finished run on main, [main-eval]({BASE_URL})\n"
        "\n"
        "| Metric | Baseline | This run | Change | Gate |\n"
        "|:--|--:|--:|:--|:--|\n"
        "| eval/f1 | 0.788 | 0.8 | +0.012 (+1.5%) ▲ better | ✅ |\n"
        "| eval/loss | — | 0.3 | | |\n"
    )


def test_no_baseline_markdown():
    assert summary_markdown(_no_baseline(), junit=None, title="nightly") == (
        "### ⚪ Kiroku: nightly recorded, no baseline\n"
        "\n"
        f"Run [ci-eval]({RUN_URL}) · No baseline (branch:main)\n"
        "\n"
        "| Metric | Baseline | This run | Change | Gate |\n"
        "|:--|--:|--:|:--|:--|\n"
        "| eval/acc | — | 0.91 | | |\n"
        "| eval/f1 | — | 0.8 | | |\n"
        "| eval/loss | — | 0.3 | | |\n"
    )


def test_no_baseline_console_text():
    assert console_text(_no_baseline(), junit=None) == (
        "Kiroku: ci-eval recorded, no baseline\n"
        f"Run:       {RUN_URL}\n"
        "Baseline:  none (branch:main)\n"
        "\n"
        "Metric     Baseline  This run  Change  Gate\n"
        "eval/acc   —         0.91\n"
        "eval/f1    —         0.8\n"
        "eval/loss  —         0.3\n"
    )


def test_a_missing_metric_gate_fails_even_without_a_baseline():
    comparison = _no_baseline()
    comparison["regressed"] = True
    comparison["gates"] = [
        {
            "expression": "eval/bleu<-1",
            "metric": "eval/bleu",
            "violated": True,
            "reason": "this run did not log eval/bleu",
        }
    ]
    text = summary_markdown(comparison, junit=None, title="ci-eval")
    assert text.startswith("### ❌ Kiroku: regression in ci-eval\n")
    assert text.endswith(
        "**Failed gates**\n\n- ❌ eval/bleu&lt;-1: this run did not log eval/bleu\n"
    )


def test_nan_and_infinite_values():
    comparison = _passing()
    comparison["metrics"] = [
        {"key": "a", "value": "NaN", "baseline": 1.0, "delta": None, "percent": None},
        {"key": "b", "value": "Infinity", "baseline": "-Infinity", "delta": None},
        {"key": "c", "value": 2.5, "baseline": "NaN", "delta": "NaN", "percent": "NaN"},
    ]
    comparison["gates"] = []
    table = summary_markdown(comparison, junit=None, title="t").split("\n")[4:-1]
    assert table == [
        "| Metric | Baseline | This run | Change | Gate |",
        "|:--|--:|--:|:--|:--|",
        "| a | 1 | NaN | | |",
        "| b | -Infinity | Infinity | | |",
        "| c | NaN | 2.5 | NaN | |",
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (0, "0"),
        (0.1 + 0.2, "0.3"),
        (123456.78, "123457"),
        (1_000_000, "1.0000e+06"),
        (-2.5e-5, "-2.5000e-05"),
        (0.0001, "0.0001"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
    ],
)
def test_format_number_matches_the_servers(value, text):
    assert format_number(value) == text


@pytest.mark.parametrize(
    ("line", "text"),
    [
        ({"delta": 0.012, "percent": 1.3, "better": True}, "+0.012 (+1.3%) ▲ better"),
        ({"delta": -0.5, "percent": -5.0, "better": None}, "−0.5 (−5.0%) ▼"),
        ({"delta": 0.5, "percent": None, "better": False}, "+0.5 ▲ worse"),
        ({"delta": 0, "percent": 0, "better": None}, "±0 (0%) ="),
        ({"delta": None, "percent": None}, ""),
        ({"delta": 2e-6, "percent": 1e-3, "better": True}, "+2.0000e-06 (+0.0%) ▲ better"),
    ],
)
def test_format_change(line, text):
    assert format_change(line) == text


def test_hostile_names_are_escaped_in_markdown():
    comparison = _passing()
    comparison["run"]["name"] = "[click](https://evil.example) @admins"
    comparison["run"]["url"] = "javascript:alert(1)"
    comparison["baseline_label"] = "<img src=x onerror=alert(1)>"
    comparison["metrics"] = [
        {"key": "a|b`c`\n# d", "value": 1.0, "baseline": 1.0, "delta": 0, "percent": 0}
    ]
    comparison["gates"] = []
    junit = {
        "tests": 2,
        "failures": 2,
        "errors": 0,
        "skipped": 0,
        "failed": ["- [x] *bold* & <b>", "1. step_one"],
    }
    text = summary_markdown(comparison, junit=junit, title="run | one", notes=["see @team"])
    assert text == (
        "### ✅ Kiroku: run \\| one passed\n"
        "\n"
        "Run \\[click\\](https://evil.example) @&#8203;admins · "
        f"[Compare]({COMPARE_URL}) · "
        f"Baseline: &lt;img src=x onerror=alert(1)&gt;, [main-eval]({BASE_URL})\n"
        "\n"
        "| Metric | Baseline | This run | Change | Gate |\n"
        "|:--|--:|--:|:--|:--|\n"
        "| a\\|b\\`c\\` \\# d | 1 | 1 | ±0 (0%) = | |\n"
        "\n"
        "Tests: 0 passed, 2 failed, 0 errors, 0 skipped\n"
        "\n"
        "**Failing tests**\n"
        "\n"
        "- \\- \\[x\\] \\*bold\\* &amp; &lt;b&gt;\n"
        "- 1\\. step\\_one\n"
        "\n"
        "**Notes**\n"
        "\n"
        "- see @&#8203;team\n"
    )


def test_hostile_names_cannot_start_a_workflow_command_in_the_log():
    comparison = _passing()
    comparison["metrics"] = [{"key": "::add-mask::x", "value": 1.0}]
    comparison["gates"] = []
    junit = {"tests": 1, "failures": 1, "failed": ["::stop-commands::t\x1b[31m\nnext"]}
    lines = console_text(comparison, junit=junit).split("\n")
    assert lines[6] == ":\u200b:add-mask::x  —         1"
    assert lines[-2] == "  - :\u200b:stop-commands::t [31m next"
    assert [line for line in lines if line.lstrip().startswith("::")] == []


def test_failing_tests_are_listed_up_to_twenty():
    names = [f"tests.test_{i:02d}" for i in range(25)]
    junit = {"tests": 60, "failures": 30, "failed": names, "failed_total": 30}
    text = summary_markdown(_passing(), junit=junit, title="t")
    listed = text.split("**Failing tests**\n\n")[1].rstrip("\n").split("\n")
    assert listed == [f"- tests.test\\_{i:02d}" for i in range(20)] + ["- … and 10 more"]


def test_md_text_keeps_plain_text_plain():
    assert md_text("eval/acc 0.5") == "eval/acc 0.5"


def test_text_cut_leaves_short_text_alone_and_cuts_long_text_at_a_line_end():
    assert text_cut("a\nb\n", 4) == "a\nb\n"
    line = "x" * 40 + "\n"
    note = "\n… table cut: 2 more lines; see the run in Kiroku\n"
    assert text_cut(line * 3, len(line) + len(note)) == line + note
    assert (
        text_cut(line * 3, len(line) + len(note) - 1)
        == "\n… table cut: 3 more lines; see the run in Kiroku\n"
    )
