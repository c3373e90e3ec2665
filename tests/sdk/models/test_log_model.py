"""``Run.log_model``: the files go up as the run's artifacts, then one registration."""

from __future__ import annotations

import logging

import kiroku
import pytest

from tests.sdk.models.fake_registry import (
    RUN,
    start_run,
)


def test_log_model_uploads_the_folder_then_registers_it_and_finish_waits(
    fake, fake_settings, tmp_path
):
    (tmp_path / "model" / "sub").mkdir(parents=True)
    (tmp_path / "model" / "weights.pt").write_bytes(b"w" * 3000)
    (tmp_path / "model" / "sub" / "config.json").write_bytes(b"{}")
    fake.put_delay = 0.3
    run = start_run(fake_settings)
    run.log_model(
        tmp_path / "model",
        "resnet",
        aliases=["candidate"],
        metadata={"acc": 0.91},
        flavor="pytorch",
        description="first try",
    )
    assert fake.registrations == []  # returns at once
    run.finish()

    uploaded = {"models/resnet/weights.pt", "models/resnet/sub/config.json"}
    assert fake.complete == {
        "models/resnet/weights.pt": b"w" * 3000,
        "models/resnet/sub/config.json": b"{}",
    }
    assert fake.registrations == [
        (
            "resnet",
            {
                "run_id": RUN,
                "path": "models/resnet/",
                "aliases": ["candidate"],
                "flavor": "pytorch",
                "description": "first try",
                "metadata": {"acc": 0.91},
            },
            uploaded,  # every file was complete when the version was registered
        )
    ]
    assert fake.models["resnet"]["aliases"] == {"candidate": 1}


def test_log_model_of_one_file_registers_its_artifact_path_under_an_encoded_name(
    fake, fake_settings, tmp_path
):
    (tmp_path / "model.pt").write_bytes(b"weights")
    run = start_run(fake_settings)
    run.log_model(tmp_path / "model.pt", "resnet v2")
    run.finish()

    assert fake.complete == {"models/resnet v2/model.pt": b"weights"}
    ((name, body, _complete),) = fake.registrations
    assert name == "resnet v2"
    assert body == {"run_id": RUN, "path": "models/resnet v2/model.pt"}  # only what was given
    posts = [p for m, p, _a in fake.requests if m == "POST" and p.endswith("/versions")]
    assert posts == ["/api/v1/projects/vision/models/resnet%20v2/versions"]


def test_a_failed_upload_skips_the_registration_and_strict_finish_raises(
    fake, fake_settings, tmp_path, caplog
):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "a.bin").write_bytes(b"a")
    (tmp_path / "model" / "b.bin").write_bytes(b"b")
    fake.put_faults["models/resnet/b.bin"] = [400]
    run = start_run(fake_settings, strict=True)
    run.log_model(tmp_path / "model", "resnet")
    with (
        caplog.at_level(logging.WARNING, logger="kiroku"),
        pytest.raises(
            kiroku.InvalidInput,
            match=r"1 artifact file\(s\) not uploaded and 1 model version\(s\) not registered; "
            r"'models/resnet/b.bin'",
        ),
    ):
        run.finish()
    assert fake.registrations == []
    assert "1 model version(s) not registered: resnet: 1 of its file(s) not uploaded" in (
        caplog.text
    )
    assert run.status == "FINISHED"


def test_a_refused_registration_is_reported_and_raised_by_a_strict_finish(
    fake, fake_settings, tmp_path, caplog
):
    (tmp_path / "model.pt").write_bytes(b"weights")
    fake.register_status = 400
    run = start_run(fake_settings, strict=True)
    run.log_model(tmp_path / "model.pt", "resnet")
    with (
        caplog.at_level(logging.WARNING, logger="kiroku"),
        pytest.raises(
            kiroku.InvalidInput,
            match=r"^1 model version\(s\) not registered; 'resnet': HTTP 400 invalid \(path\)",
        ),
    ):
        run.finish()
    assert len(fake.registrations) == 1  # a 400 is not retried
    assert "model 'resnet': version not registered: HTTP 400" in caplog.text


def test_a_registration_still_running_when_finish_gives_up_is_reported(
    fake, fake_settings, tmp_path, caplog
):
    (tmp_path / "model.pt").write_bytes(b"weights")
    fake.put_delay = 5.0  # still hanging when finish() stops waiting (no request timeout)
    run = start_run(fake_settings.with_overrides(timeout=10.0))
    run.log_model(tmp_path / "model.pt", "resnet")
    with caplog.at_level(logging.WARNING, logger="kiroku"):
        run.finish(timeout=2.0)
    assert fake.registrations == []
    assert "1 model version(s) not registered: resnet: not done before finish() gave up" in (
        caplog.text
    )


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("../x", {}, "model name '../x'"),
        ("/abs", {}, "model name '/abs'"),
        ("a;b", {}, "model name 'a;b'"),
        ("resnet", {"aliases": ["latest"]}, "alias 'latest'"),
        ("resnet", {"aliases": ["Latest"]}, "alias 'Latest'"),
        ("resnet", {"aliases": ["123"]}, "alias '123'"),
        ("resnet", {"aliases": ["has space"]}, "alias 'has space'"),
        ("resnet", {"metadata": {"loss": float("nan")}}, "metadata must be plain JSON"),
        ("resnet", {"metadata": ["not", "a", "dict"]}, "metadata must be a dict"),
        ("resnet", {"flavor": 3}, "flavor must be a string"),
    ],
)
def test_log_model_refuses_bad_arguments_before_uploading(
    fake, fake_settings, tmp_path, name, kwargs, message
):
    (tmp_path / "model.pt").write_bytes(b"weights")
    run = start_run(fake_settings, strict=True)
    with pytest.raises(kiroku.InvalidInput, match=f"^log_model\\(\\): {message}"):
        run.log_model(tmp_path / "model.pt", name, **kwargs)
    run.finish()
    assert fake.artifacts == {} and fake.registrations == []


def test_log_model_of_a_missing_path_is_refused(fake, fake_settings, tmp_path):
    run = start_run(fake_settings, strict=True)
    with pytest.raises(kiroku.InvalidInput, match="is not a file or directory"):
        run.log_model(tmp_path / "nope", "resnet")
    run.finish()


def test_log_model_offline_records_nothing_and_says_so_once(fake, fake_settings, tmp_path, caplog):
    (tmp_path / "model.pt").write_bytes(b"weights")
    run = start_run(fake_settings.with_overrides(mode="offline"))
    with caplog.at_level(logging.WARNING, logger="kiroku"):
        run.log_model(tmp_path / "model.pt", "resnet")
        run.log_model(tmp_path / "model.pt", "resnet")
    run.finish()
    assert caplog.text.count("log_model() records nothing in offline mode") == 1
    assert fake.requests == []
