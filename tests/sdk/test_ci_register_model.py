"""``kiroku ci report --register-model``: the CI run's model registered only when every
gate passed, and the job summary saying what became of it. A simulated GitHub Actions
job against the live server (registry included) and the loopback GitHub API, as
test_ci_report_cli.py does; then the action's new inputs."""

from __future__ import annotations

import pytest
from kiroku.ci import recording
from kiroku.errors import InvalidInput

from apps.registry.models import ModelAlias, ModelVersion
from apps.runs.models import Run
from tests.sdk.ci_env import REPO, write_json
from tests.sdk.test_ci_action import _argv, _run_report_script

GATE = ("--fail-on", "eval/acc<-0.01")
REGISTER = ("--register-model", "resnet", "--model-alias", "staging")


@pytest.fixture
def model_dir(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.pt").write_bytes(b"\x00weights")
    (folder / "config.json").write_text('{"layers": 50}')
    return str(folder)


@pytest.fixture
def baseline(job, tmp_path):
    """A push to main reported acc 0.92: the baseline the PRs compare with."""
    code, _, err = job(100).report("--metrics", _metrics(tmp_path, 0.92))
    assert code == 0, err


def _metrics(tmp_path, acc: float) -> str:
    return write_json(tmp_path / f"metrics-{acc}.json", {"eval": {"acc": acc}})


def test_passed_gates_register_a_version_and_the_summary_says_so(
    job, baseline, tmp_path, model_dir, fake_github
):
    pr = job(101, pr=7, branch="feature")
    code, out, err = pr.report(
        "--metrics", _metrics(tmp_path, 0.925), *GATE, *REGISTER, "--model-path", model_dir
    )
    assert (code, err) == (0, "")
    version = ModelVersion.objects.get(model__name="resnet")
    run = Run.objects.get(ci__run_id="101")
    assert (version.number, version.run_id, version.path) == (1, run.pk, "models/resnet/")
    assert sorted(entry["path"] for entry in version.manifest) == ["config.json", "weights.pt"]
    assert ModelAlias.objects.get(model__name="resnet", name="staging").version_id == version.pk
    assert "Registered resnet v1 (alias staging)" in out.splitlines()
    assert "**Model registry:** Registered resnet v1 (alias staging)\n" in pr.summary
    [comment] = fake_github.on(REPO, 7)
    assert "Registered resnet v1 (alias staging)" in comment.body


def test_a_failed_gate_registers_nothing_and_the_summary_says_which(
    job, baseline, tmp_path, model_dir
):
    pr = job(101, pr=7, branch="feature")
    code, out, _ = pr.report(
        "--metrics", _metrics(tmp_path, 0.90), *GATE, *REGISTER, "--model-path", model_dir
    )
    assert code == 1
    assert not ModelVersion.objects.exists()
    assert "Not registered: gate eval/acc<-0.01 failed" in out.splitlines()
    assert "**Model registry:** Not registered: gate eval/acc&lt;-0.01 failed\n" in pr.summary
    # The model's files stay with the run: a person may still register them by hand.
    run = Run.objects.get(ci__run_id="101")
    assert {a.path for a in run.artifacts.all()} == {
        "models/resnet/config.json",
        "models/resnet/weights.pt",
    }


def test_no_baseline_registers_since_nothing_regressed_and_says_so(job, tmp_path, model_dir):
    pr = job(101, pr=7, branch="feature")
    code, _, err = pr.report(
        "--metrics", _metrics(tmp_path, 0.9), *GATE, *REGISTER, "--model-path", model_dir
    )
    assert (code, err) == (0, "")
    assert ModelVersion.objects.get().number == 1
    assert (
        "**Model registry:** Registered resnet v1 (alias staging): no baseline to compare "
        "with, so no gate failed\n"
    ) in pr.summary


def test_a_required_missing_baseline_registers_nothing(job, tmp_path, model_dir):
    pr = job(101, pr=7, branch="feature")
    code, _, _ = pr.report(
        "--metrics",
        _metrics(tmp_path, 0.9),
        "--require-baseline",
        *REGISTER,
        "--model-path",
        model_dir,
    )
    assert code == 1
    assert not ModelVersion.objects.exists()
    assert "Not registered: no baseline run was found (--require-baseline)" in pr.summary


def test_a_single_file_registers_its_artifact_path(job, baseline, tmp_path):
    weights = tmp_path / "model.onnx"
    weights.write_bytes(b"onnx")
    code, _, err = job(101, pr=7, branch="feature").report(
        "--metrics",
        _metrics(tmp_path, 0.93),
        "--register-model",
        "resnet",
        "--model-path",
        str(weights),
    )
    assert (code, err) == (0, "")
    assert ModelVersion.objects.get().path == "models/resnet/model.onnx"


def test_a_refused_registration_is_an_error_after_the_summary(
    job, baseline, tmp_path, model_dir, monkeypatch
):
    def refuse(self, project, model, names):
        raise InvalidInput("alias 'staging' is protected", status=403, code="alias_protected")

    monkeypatch.setattr(recording.Recorder, "register", refuse)
    pr = job(101, pr=7, branch="feature")
    code, _, err = pr.report(
        "--metrics", _metrics(tmp_path, 0.93), *REGISTER, "--model-path", model_dir
    )
    assert code == 2
    assert err == ("kiroku: error: model 'resnet' not registered: alias 'staging' is protected\n")
    assert "Not registered: registration failed: alias 'staging' is protected" in pr.summary
    assert pr.outputs["regressed"] == "false"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--register-model", "resnet"), "--register-model needs --model-path"),
        (("--model-path", "MODEL"), "--model-path and --model-alias need --register-model NAME"),
        (("--register-model", "a/b", "--model-path", "MODEL"), "--register-model 'a/b': "),
        (("--register-model", "r", "--alias", "latest", "--model-path", "MODEL"), "--model-alias"),
        (("--register-model", "r", "--model-path", "nowhere"), "--model-path 'nowhere' does not"),
    ],
)
def test_bad_model_flags_stop_before_anything_is_sent(job, tmp_path, model_dir, args, message):
    args = tuple(model_dir if arg == "MODEL" else arg for arg in args)
    code, _, err = job(101, pr=7, branch="feature").report(
        "--metrics", _metrics(tmp_path, 0.9), *args
    )
    assert code == 2
    assert err.startswith(f"kiroku: error: {message}"), err
    assert not Run.objects.exists()


# -- the action --------------------------------------------------------------------------


def test_the_action_passes_the_model_inputs_as_flags(tmp_path):
    argv = _argv(
        _run_report_script(
            tmp_path,
            {
                "INPUT_REGISTER_MODEL": " resnet ",
                "INPUT_MODEL_ALIAS": "staging\n\ncandidate\n",
                "INPUT_MODEL_PATH": "out/model",
            },
        )
    )
    assert argv[-8:] == [
        "--register-model",
        "resnet",
        "--model-alias",
        "staging",
        "--model-alias",
        "candidate",
        "--model-path",
        "out/model",
    ]


def test_hostile_model_inputs_are_passed_as_data_never_run(tmp_path):
    argv = _argv(
        _run_report_script(
            tmp_path,
            {
                "INPUT_REGISTER_MODEL": "$(touch pwned)",
                "INPUT_MODEL_ALIAS": "`touch pwned`",
                "INPUT_MODEL_PATH": '"; touch pwned; echo "',
            },
        )
    )
    assert argv[argv.index("--register-model") + 1] == "$(touch pwned)"
    assert argv[argv.index("--model-alias") + 1] == "`touch pwned`"
    assert argv[argv.index("--model-path") + 1] == '"; touch pwned; echo "'
    assert sorted(p.name for p in tmp_path.rglob("pwned")) == []
