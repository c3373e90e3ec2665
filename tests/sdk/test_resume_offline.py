"""Continuing runs (resume, client_id idempotency) and offline runs uploaded later."""

from __future__ import annotations

import logging
import time

import kiroku
import pytest
from kiroku.cli import main
from kiroku.spool import spool_list

from tests.sdk.proxy import dead_url


def _wait_for_points(reader, run_id: str, key: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        summary = reader.run(run_id).metric_summaries.get(key)
        if summary and summary["count"] >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{count} points of {key} never arrived")


def test_resume_must_fails_clearly_for_an_unknown_id(settings):
    with pytest.raises(kiroku.NotFound, match="no run with id 'nothing-here'"):
        kiroku.init(id="nothing-here", resume="must", capture=False, settings=settings)


def test_resume_never_refuses_an_existing_id(settings):
    with kiroku.init(id="taken-id-1", capture=False, settings=settings):
        pass
    with pytest.raises(kiroku.InvalidInput, match=r"already exists.*resume='allow'"):
        kiroku.init(id="taken-id-1", capture=False, settings=settings)


def test_resume_allow_continues_the_same_run_and_its_steps(settings, reader, caplog):
    caplog.set_level(logging.WARNING, logger="kiroku")
    first = kiroku.init(
        id="preempted-1", resume="allow", config={"lr": 0.1}, capture=False, settings=settings
    )
    for _ in range(5):
        first.log({"loss": 1.0})
    _wait_for_points(reader, first.id, "loss", 5)

    second = kiroku.init(
        id="preempted-1",
        resume="allow",
        config={"lr": 0.2, "epochs": 3},
        capture=False,
        settings=settings,
    )
    assert second.id == first.id
    assert second.step == 5
    second.log({"loss": 0.5})
    second.finish()
    first.finish()

    run = reader.run(first.id)
    assert [p["step"] for p in run.history("loss")] == [0, 1, 2, 3, 4, 5]
    # Params are write-once: the changed lr is refused by the server (and said once),
    # the new key is kept.
    assert run.params == {"lr": "0.1", "epochs": "3"}
    assert sum("param 'lr'" in r.getMessage() for r in caplog.records) == 1
    assert len(list(reader.runs("vision"))) == 1


def test_a_run_can_be_resumed_by_its_server_id(settings, reader):
    first = kiroku.init(capture=False, settings=settings)
    first.log({"loss": 1.0})
    _wait_for_points(reader, first.id, "loss", 1)
    with kiroku.init(id=first.id, resume="must", capture=False, settings=settings) as second:
        assert second.id == first.id
        second.log({"loss": 0.5})
    first.finish()
    assert [p["step"] for p in reader.run(first.id).history("loss")] == [0, 1]


def test_resuming_an_ended_run_reopens_it_and_records_new_points(settings, reader):
    with kiroku.init(id="ended-run-1", capture=False, settings=settings) as first:
        first.log({"loss": 1.0})
    assert reader.run(first.id).status == "FINISHED"
    with kiroku.init(id="ended-run-1", resume="allow", capture=False, settings=settings) as again:
        assert reader.run(again.id).status == "RUNNING"
        again.log({"loss": 0.5})
    resumed = reader.run(first.id)
    assert resumed.status == "FINISHED"
    assert [p["step"] for p in resumed.history("loss")] == [0, 1]


def test_offline_run_is_uploaded_by_sync(settings, reader, monkeypatch, capsys):
    offline = settings.with_overrides(url=dead_url(), mode="offline")
    with kiroku.init(
        name="on-the-train",
        config={"lr": 0.1},
        tags={"where": "train"},
        capture=False,
        settings=offline,
    ) as run:
        for step in range(50):
            run.log({"loss": float(step)})
        run.summary["best"] = 0.0
    assert run.id is None

    monkeypatch.setenv("KIROKU_TOKEN", settings.token)
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "vision/on-the-train run (not created) — 4 record(s), 50 point(s) unsent" in out

    monkeypatch.setenv("KIROKU_URL", settings.url)
    assert main(["sync"]) == 0
    assert "synced" in capsys.readouterr().out
    (uploaded,) = reader.runs("vision")
    assert (uploaded.name, uploaded.status, uploaded.client_id) == (
        "on-the-train",
        "FINISHED",
        run.client_id,
    )
    assert uploaded.params == {"lr": "0.1"}
    assert uploaded.tags == {"where": "train"}
    assert uploaded.summary == {"best": 0.0}
    assert uploaded.metric_summaries["loss"]["count"] == 50

    assert main(["sync"]) == 0
    assert "Nothing to sync" in capsys.readouterr().out
    assert spool_list(settings.spool_dir) == []
    assert main(["status"]) == 0
    assert "Nothing spooled" in capsys.readouterr().out


def test_offline_resume_of_an_existing_run_sends_its_new_params_at_sync(settings, reader):
    first = kiroku.init(id="offline-resume", capture=False, settings=settings)
    first.log({"loss": 1.0})
    _wait_for_points(reader, first.id, "loss", 1)
    offline = settings.with_overrides(mode="offline")
    with kiroku.init(
        id="offline-resume",
        resume="allow",
        config={"seed": 7},
        tags={"t": "x"},
        capture=False,
        settings=offline,
    ) as second:
        second.log({"loss": 0.5}, step=1)
    from kiroku.sync import sync

    (result,) = sync(settings, progress=False)
    first.finish()
    assert result.complete and result.run_id == first.id
    data = reader.run(first.id)
    assert (data.params, data.tags) == ({"seed": "7"}, {"t": "x"})
    assert [p["step"] for p in data.history("loss")] == [0, 1]
