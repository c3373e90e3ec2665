"""The GitHub Action (actions/report/action.yml) and this repository's workflow:
both valid by SchemaStore's schemas, the action's inputs and outputs wired through,
and the report step's argument building run for real with bash."""

from __future__ import annotations

import copy
import importlib.resources
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "actions" / "report" / "action.yml"
WORKFLOW = ROOT / ".github" / "workflows" / "kiroku.yml"


def _schema(name: str) -> dict[str, Any]:
    """A schema as check-jsonschema vendors it from SchemaStore (no download)."""
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads(vendor.joinpath(name).read_text(encoding="utf-8"))


def _errors(document: Any, schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    return sorted(error.message for error in validator.iter_errors(document))


def _action() -> dict[str, Any]:
    return yaml.safe_load(ACTION.read_text(encoding="utf-8"))


def _workflow() -> dict[str, Any]:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    # YAML 1.1 (PyYAML) reads the key `on` as True; GitHub reads it as "on".
    workflow["on"] = workflow.pop(True)
    return workflow


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _report_step(action: dict[str, Any]) -> dict[str, Any]:
    return next(step for step in action["runs"]["steps"] if step.get("id") == "report")


# -- the action's metadata -----------------------------------------------------------


def test_action_is_valid_by_the_schemastore_schema():
    assert _errors(_action(), _schema("github-actions.json")) == []


def test_the_action_schema_check_catches_a_broken_action():
    broken = copy.deepcopy(_action())
    del broken["runs"]["using"]
    assert _errors(broken, _schema("github-actions.json")) != []


def test_every_input_is_used_and_no_undefined_input_is_referenced():
    action = _action()
    referenced = set()
    for text in _strings(action["runs"]["steps"]):
        referenced |= set(re.findall(r"inputs\.([A-Za-z0-9_-]+)", text))
    assert referenced == set(action["inputs"])


def test_required_inputs_have_no_default_and_the_others_have_string_defaults():
    inputs = _action()["inputs"]
    required = {name for name, spec in inputs.items() if spec.get("required")}
    assert required == {"token", "project"}
    assert all("default" not in inputs[name] for name in required)
    assert all(
        isinstance(spec.get("default"), str)
        for name, spec in inputs.items()
        if name not in required
    )


def test_each_output_is_the_report_steps_output_of_the_same_name():
    outputs = _action()["outputs"]
    assert set(outputs) == {"run-id", "run-url", "regressed"}
    for name, spec in outputs.items():
        assert spec["value"] == f"${{{{ steps.report.outputs.{name} }}}}"


def test_no_run_script_interpolates_an_expression():
    steps = _action()["runs"]["steps"]
    scripts = [step["run"] for step in steps if "run" in step]
    assert len(scripts) == 2
    assert [s for s in scripts if "${{" in s] == []


def test_the_report_step_receives_every_input_through_env():
    step = _report_step(_action())
    env = step["env"]
    assert env["KIROKU_TOKEN"] == "${{ inputs.token }}"
    assert env["GITHUB_TOKEN"] == "${{ inputs.github-token }}"
    passed = {re.fullmatch(r"\$\{\{ inputs\.([a-z-]+) \}\}", v).group(1) for v in env.values()}
    assert passed == set(_action()["inputs"]) - {"python"}


# -- the report step's script, run with bash -------------------------------------------

# Stand-in for the CLI at the boundary: the real `kiroku ci report` is tested on its
# own; here only the argv the script builds matters. NUL-separated, so an argument
# with a space or a newline is still one argument.
FAKE_KIROKU = '#!/bin/sh\nfor arg in "$@"; do printf \'%s\\0\' "$arg"; done\n'

DEFAULTS = {
    "INPUT_URL": "",
    "INPUT_NAME": "",
    "INPUT_METRICS": "",
    "INPUT_JUNIT": "",
    "INPUT_PARAMS": "",
    "INPUT_ARTIFACTS": "",
    "INPUT_BASELINE": "",
    "INPUT_FAIL_ON": "",
    "INPUT_COMMENT": "on-change",
    "INPUT_STEP_NAME": "eval",
    "INPUT_REQUIRE_BASELINE": "false",
    "INPUT_ALLOW_OFFLINE": "false",
}


def _run_report_script(tmp_path: Path, inputs: dict[str, str]) -> subprocess.CompletedProcess:
    runner_temp = tmp_path / "runner-temp"
    kiroku = runner_temp / "kiroku-venv" / "bin" / "kiroku"
    kiroku.parent.mkdir(parents=True)
    kiroku.write_text(FAKE_KIROKU)
    kiroku.chmod(0o755)
    script = tmp_path / "report.sh"
    script.write_text(_report_step(_action())["run"])
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "RUNNER_TEMP": str(runner_temp),
        "KIROKU_TOKEN": "kt_secret",
        "GITHUB_TOKEN": "ghs_test",
        "INPUT_PROJECT": "vision",
        **DEFAULTS,
        **inputs,
    }
    # The runner's command line for `shell: bash`.
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=workdir,
        env=env,
        capture_output=True,
        check=False,
    )


def _argv(result: subprocess.CompletedProcess) -> list[str]:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode().split("\0")[:-1]


def test_the_defaults_give_the_project_comment_and_step_name_only(tmp_path):
    result = _run_report_script(tmp_path, {})
    assert _argv(result) == [
        "ci",
        "report",
        "--project",
        "vision",
        "--comment",
        "on-change",
        "--step-name",
        "eval",
    ]


def test_every_input_maps_to_its_flag_and_multi_line_inputs_to_one_flag_per_line(tmp_path):
    result = _run_report_script(
        tmp_path,
        {
            "INPUT_URL": "https://kiroku.example.com",
            "INPUT_NAME": "nightly eval",
            "INPUT_METRICS": "out/eval.json\n\n  out/extra metrics.yaml  \n",
            "INPUT_JUNIT": "var/junit.xml\r\nvar/junit-2.xml",
            "INPUT_PARAMS": "params.yaml",
            "INPUT_ARTIFACTS": "model.pt\nreports/",
            "INPUT_BASELINE": "best:eval/acc:max",
            "INPUT_FAIL_ON": "eval/acc<-0.01\nloss > +5%\n",
            "INPUT_COMMENT": "always",
            "INPUT_REQUIRE_BASELINE": "true",
            "INPUT_ALLOW_OFFLINE": "True",
        },
    )
    assert _argv(result) == [
        "ci",
        "report",
        "--url",
        "https://kiroku.example.com",
        "--project",
        "vision",
        "--name",
        "nightly eval",
        "--metrics",
        "out/eval.json",
        "--metrics",
        "out/extra metrics.yaml",
        "--junit",
        "var/junit.xml",
        "--junit",
        "var/junit-2.xml",
        "--params",
        "params.yaml",
        "--artifact",
        "model.pt",
        "--artifact",
        "reports/",
        "--baseline",
        "best:eval/acc:max",
        "--fail-on",
        "eval/acc<-0.01",
        "--fail-on",
        "loss > +5%",
        "--comment",
        "always",
        "--step-name",
        "eval",
        "--require-baseline",
        "--allow-offline",
    ]


def test_hostile_input_values_are_passed_as_data_never_run(tmp_path):
    hostile = {
        "INPUT_NAME": "$(touch pwned)",
        "INPUT_BASELINE": '"; touch pwned; echo "',
        "INPUT_METRICS": "`touch pwned`\n*\n${IFS}x; touch pwned",
        "INPUT_FAIL_ON": "acc<-0.01 && touch pwned",
    }
    result = _run_report_script(tmp_path, hostile)
    argv = _argv(result)
    assert argv[argv.index("--name") + 1] == "$(touch pwned)"
    assert argv[argv.index("--baseline") + 1] == '"; touch pwned; echo "'
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--metrics"] == [
        "`touch pwned`",
        "*",
        "${IFS}x; touch pwned",
    ]
    assert argv[argv.index("--fail-on") + 1] == "acc<-0.01 && touch pwned"
    assert sorted(p.name for p in tmp_path.rglob("pwned")) == []


def test_a_flag_input_that_is_not_true_or_false_stops_before_the_cli(tmp_path):
    result = _run_report_script(tmp_path, {"INPUT_REQUIRE_BASELINE": "yes"})
    assert result.returncode == 2
    assert result.stdout.decode() == "::error::require-baseline must be true or false\n"


# -- this repository's workflow --------------------------------------------------------


def test_workflow_is_valid_by_the_schemastore_schema():
    assert _errors(_workflow(), _schema("github-workflows.json")) == []


def test_the_workflow_schema_check_catches_a_broken_workflow():
    broken = copy.deepcopy(_workflow())
    del broken["jobs"]["test"]["runs-on"]
    assert _errors(broken, _schema("github-workflows.json")) != []


def test_the_workflow_reports_with_the_action_and_only_inputs_it_defines():
    job = _workflow()["jobs"]["test"]
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    report = next(s for s in job["steps"] if s.get("uses") == "./actions/report")
    assert report["with"] == {
        "url": "${{ secrets.KIROKU_URL }}",
        "token": "${{ secrets.KIROKU_TOKEN }}",
        "project": "kiroku",
        "junit": "var/junit.xml",
        "fail-on": "junit/failures>+0",
    }
    assert set(report["with"]) <= set(_action()["inputs"])
    assert "!cancelled()" in report["if"]
    assert "env.KIROKU_REPORTING == 'true'" in report["if"]


def test_the_workflow_runs_the_projects_ci_against_its_service_containers():
    job = _workflow()["jobs"]["test"]
    ci = next(step for step in job["steps"] if step.get("id") == "tests")
    assert ci["run"] == ".ci/run"
    assert set(job["services"]) == {"postgres", "redis"}
    assert ci["env"]["DATABASE_URL"].startswith("postgres://postgres@postgres:5432/")
    assert ci["env"]["REDIS_URL"].startswith("redis://redis:6379/")
    assert ci["env"]["CI_JUNIT"] == "var/junit.xml"


def test_the_workflow_gives_the_token_secret_to_the_report_step_alone():
    job = _workflow()["jobs"]["test"]
    assert job["env"] == {"KIROKU_REPORTING": "${{ secrets.KIROKU_TOKEN != '' }}"}
    with_secrets = [
        step.get("name") or step.get("uses")
        for step in job["steps"]
        if any("secrets." in text for text in _strings(step))
    ]
    assert with_secrets == ["Report to Kiroku"]
