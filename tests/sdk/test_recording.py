"""The issue's full example against a live server, read back through the API."""

from __future__ import annotations

import hashlib
import logging
import math
import subprocess

import kiroku
import pytest
from kiroku.errors import InvalidInput


def _git(repo, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git repository with one commit, a dirty file, a dataset folder and a dvc.lock."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "T")
    _git(repo, "remote", "add", "origin", "https://bob:s3cret@git.example.com/acme/vision.git")
    (repo / "train.py").write_text("print('v1')\n")
    (repo / "dvc.lock").write_text(
        "schema: '2.0'\n"
        "stages:\n"
        "  prepare:\n"
        "    cmd: python prepare.py\n"
        "    deps:\n"
        "    - path: raw/images\n"
        "      md5: 0123456789abcdef0123456789abcdef.dir\n"
        "      size: 2048\n"
        "      nfiles: 2\n"
        "    outs:\n"
        "    - path: data/prepared\n"
        "      md5: fedcba9876543210fedcba9876543210.dir\n"
        "      size: 1024\n"
        "      nfiles: 4\n"
    )
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    (repo / "train.py").write_text("print('v2')\n")  # uncommitted: dirty
    train = repo / "data" / "train"
    train.mkdir(parents=True)
    (train / "a.csv").write_text("x,y\n1,2\n")
    (train / "b.csv").write_text("x,y\n3,4\n")
    monkeypatch.chdir(repo)
    return repo


def test_full_example_is_read_back_through_the_api(settings, reader, repo):
    run = kiroku.init(
        project="vision",
        name="resnet50-lr3e-4",
        config={"lr": 3e-4, "batch_size": 64, "optim": {"name": "adam", "betas": [0.9, 0.99]}},
        tags={"team": "perception"},
        notes="first try",
        datasets={"train": "data/train"},
        settings=settings,
    )
    with run:
        for step in range(300):
            run.log({"loss": 1 / (step + 1), "acc": step / 300})
        run.log({"eval/acc": 0.9, "eval/nan": math.nan, "eval/inf": -math.inf}, step=299)
        run.config.update({"epochs": 3})
        run.tags["stage"] = "warmup"
        run.summary["best_acc"] = 0.93
        run.log_dataset("val", "data/train/a.csv")

    data = reader.run(run.id)
    assert data.status == "FINISHED"
    assert data.name == "resnet50-lr3e-4"
    assert data.notes == "first try"
    assert data.client_id == run.client_id
    assert data.params == {
        "lr": "0.0003",
        "batch_size": "64",
        "optim.name": "adam",
        "optim.betas": "[0.9,0.99]",
        "epochs": "3",
    }
    assert data.tags == {"team": "perception", "stage": "warmup"}
    assert data.summary == {"best_acc": 0.93}
    assert data.metric_summaries["loss"]["count"] == 300
    assert data.metrics["loss"] == 1 / 300
    assert data.metrics["eval/acc"] == 0.9
    assert math.isnan(data.metrics["eval/nan"])
    assert data.metrics["eval/inf"] == -math.inf
    history = reader.run(run.id).history("acc")
    assert [p["step"] for p in history] == list(range(300))
    assert [p["value"] for p in history] == [s / 300 for s in range(300)]

    git = data.git
    assert git["commit"] == _git(repo, "rev-parse", "HEAD")
    assert git["branch"] == "main"
    assert git["remote"] == "https://git.example.com/acme/vision.git"  # no credentials
    assert git["dirty"] is True
    assert "+print('v2')" in git["diff"]
    environment = data.environment
    assert environment["python"].split(".")[0] == "3"
    assert environment["cwd"] == str(repo)
    assert any(p.startswith("httpx") for p in environment["packages"])
    assert environment["cpu_count"] >= 1

    datasets = {d["name"]: d for d in data.datasets}
    manifest_files = sorted(["a.csv", "b.csv"])
    assert datasets["train"]["file_count"] == len(manifest_files)
    assert datasets["train"]["size"] == 16
    assert datasets["train"]["digest"].startswith("sha256:")
    assert datasets["train"]["uri"] == str(repo / "data" / "train")
    single = hashlib.sha256((repo / "data/train/a.csv").read_bytes()).hexdigest()
    assert datasets["val"]["digest"] == f"sha256:{single}"
    assert datasets["data/prepared"]["digest"] == "md5:fedcba9876543210fedcba9876543210.dir"
    assert datasets["data/prepared"]["source"] == "dvc"


def test_exception_inside_with_marks_the_run_failed(settings, reader):
    with pytest.raises(ZeroDivisionError), kiroku.init(capture=False, settings=settings) as run:
        run.log({"loss": 1.0})
        _ = 1 / 0
    assert reader.run(run.id).status == "FAILED"
    assert reader.run(run.id).metrics == {"loss": 1.0}


def test_keyboard_interrupt_inside_with_marks_the_run_killed(settings, reader):
    with pytest.raises(KeyboardInterrupt), kiroku.init(capture=False, settings=settings) as run:
        raise KeyboardInterrupt
    assert reader.run(run.id).status == "KILLED"


def test_bad_values_and_keys_are_reported_once_and_dropped(settings, reader, caplog):
    caplog.set_level(logging.WARNING, logger="kiroku")
    with kiroku.init(capture=False, settings=settings) as run:
        for step in range(3):
            run.log(
                {"ok": step, "bad;key": 1.0, "text": "high", "flag": True, "n": math.nan}, step=step
            )
    data = reader.run(run.id)
    assert set(data.metrics) == {"ok", "n"}
    assert [p["value"] for p in data.history("ok")] == [0.0, 1.0, 2.0]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("'bad;key'" in m for m in messages) == 1
    assert sum("'text'" in m for m in messages) == 1
    assert sum("'flag'" in m for m in messages) == 1


def test_strict_mode_raises_on_bad_input(settings):
    with kiroku.init(capture=False, strict=True, settings=settings) as run:
        with pytest.raises(InvalidInput, match="not a number"):
            run.log({"loss": "high"})
        with pytest.raises(InvalidInput, match=r"bad/\.\./key"):
            run.log({"bad/../key": 1.0})
        run.config["lr"] = 0.1
        with pytest.raises(InvalidInput, match="write-once"):
            run.config["lr"] = 0.2


def test_changed_config_value_is_reported_and_the_first_kept(settings, reader, caplog):
    caplog.set_level(logging.WARNING, logger="kiroku")
    with kiroku.init(config={"lr": 0.1}, capture=False, settings=settings) as run:
        run.config["lr"] = 0.2
        run.config["lr"] = 0.3
        assert run.config["lr"] == 0.1
    assert reader.run(run.id).params == {"lr": "0.1"}
    assert sum("write-once" in r.getMessage() for r in caplog.records) == 1


def test_steps_count_up_from_the_last_one_given(settings, reader):
    with kiroku.init(capture=False, settings=settings) as run:
        run.log({"a": 1.0})
        run.log({"a": 2.0}, step=10)
        run.log({"b": 3.0}, step=10)
        run.log({"a": 4.0})
        assert run.step == 12
    assert [(p["step"], p["value"]) for p in reader.run(run.id).history("a")] == [
        (0, 1.0),
        (10, 2.0),
        (11, 4.0),
    ]


def test_disabled_mode_records_nothing(settings, kiroku_dir, reader):
    with kiroku.init(mode="disabled", settings=settings.with_overrides(url=None)) as run:
        run.log({"loss": 1.0})
        run.config["lr"] = 1
        run.summary["x"] = 1
    assert run.id is None
    assert not kiroku_dir.exists()
    assert list(reader.runs("vision")) == []


def test_group_and_parent_are_set(settings, reader):
    with kiroku.init(name="sweep", capture=False, settings=settings) as parent:
        pass
    with kiroku.init(group="sweep-1", parent=parent, capture=False, settings=settings) as child:
        pass
    data = reader.run(child.id)
    assert (data.group, data.parent_id) == ("sweep-1", parent.id)


def test_more_datasets_than_one_request_takes_are_all_recorded(settings, reader, tmp_path):
    named = {f"shard-{i:03d}": tmp_path / f"shard-{i:03d}" for i in range(130)}
    with kiroku.init(datasets=named, capture=False, settings=settings) as run:
        pass
    recorded = {d["name"]: d["uri"] for d in reader.run(run.id).datasets}
    assert recorded == {name: str(path) for name, path in named.items()}


def test_a_relative_dataset_path_is_recorded_absolute_from_the_start(
    settings, reader, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    with kiroku.init(datasets={"train": "data/train"}, capture=False, settings=settings) as run:
        run.log_dataset("val", "data/val")
        run.log_dataset("remote", "s3://bucket/val")
    recorded = {d["name"]: d["uri"] for d in reader.run(run.id).datasets}
    assert recorded == {
        "train": str(tmp_path / "data" / "train"),
        "val": str(tmp_path / "data" / "val"),
        "remote": "s3://bucket/val",
    }
