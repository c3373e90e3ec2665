"""What a run says to the person who started it: one line on stderr at ``init()``
(``Kiroku: run <name> → <url>``) and one at ``finish()`` (status, duration, points
sent, what waits for ``kiroku sync``); none with ``quiet=True`` or
``KIROKU_SILENT=true``. And the warning, once per key, about NaN and infinities."""

from __future__ import annotations

import logging
import math
import re

import kiroku
import pytest

from tests.sdk.conftest import run_points
from tests.sdk.proxy import dead_url

DURATION = r"\d+\.\ds"


def said(capsys) -> list[str]:
    """The ``Kiroku:`` lines written to stderr since the last call."""
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("Kiroku:")]


def test_init_names_the_run_and_its_page(settings, capsys):
    run = kiroku.init(name="resnet50", capture=False, settings=settings)

    assert said(capsys) == [f"Kiroku: run resnet50 → {run.url}"]
    assert run.url.endswith(f"/projects/vision/runs/{run.id}")
    run.finish()


def test_finish_says_the_status_the_duration_and_the_points_sent(settings, capsys):
    run = kiroku.init(name="resnet50", capture=False, settings=settings)
    for step in range(3):
        run.log({"loss": 1 / (step + 1), "acc": step / 3})
    said(capsys)

    run.finish()

    (line,) = said(capsys)
    assert re.fullmatch(
        rf"Kiroku: run resnet50 FINISHED in {DURATION}, 6 points sent → {re.escape(run.url)}",
        line,
    )


def test_a_failed_block_says_failed(settings, capsys):
    with pytest.raises(RuntimeError), kiroku.init(name="r", capture=False, settings=settings):
        raise RuntimeError("diverged")

    assert re.fullmatch(
        rf"Kiroku: run r FAILED in {DURATION}, 0 points sent → \S+", said(capsys)[-1]
    )


def test_what_did_not_reach_the_server_is_named_with_kiroku_sync(via_proxy, proxy, capsys):
    run = kiroku.init(name="r", capture=False, settings=via_proxy)
    proxy.refuse()
    run.log({"loss": 1.0})
    run.log({"loss": 0.5})
    said(capsys)

    run.finish(timeout=5)

    (spool,) = (via_proxy.dir / "spool").glob("*.jsonl")
    (line,) = said(capsys)
    assert re.fullmatch(
        rf"Kiroku: run r FINISHED in {DURATION}, 0 points sent; not everything reached the "
        rf"server, left in {re.escape(str(spool))} for `kiroku sync`: 2 points and the finish "
        rf"→ {re.escape(run.url)}",
        line,
    )


def test_an_offline_run_says_where_it_is_saved_and_how_to_upload_it(settings, capsys):
    run = kiroku.init(name="r", mode="offline", capture=False, settings=settings)
    (started,) = said(capsys)
    run.log({"loss": 1.0})

    run.finish()

    (spool,) = (settings.dir / "spool").glob("*.jsonl")
    assert started == f"Kiroku: offline run r: saved to {spool}; upload it with `kiroku sync`"
    assert re.fullmatch(
        rf"Kiroku: offline run r FINISHED in {DURATION}, 1 point saved to "
        rf"{re.escape(str(spool))}; upload it with `kiroku sync`",
        said(capsys)[0],
    )


def test_a_run_that_cannot_reach_the_server_says_so(settings, capsys):
    url = dead_url()

    run = kiroku.init(name="r", capture=False, settings=settings.with_overrides(url=url))

    assert said(capsys) == [
        f"Kiroku: run r → not created yet: {url} cannot be reached; it is created when the "
        "server answers"
    ]
    run.finish(timeout=1)


def test_a_resumed_run_says_resuming(settings, capsys):
    kiroku.init(id="resume-me-1", name="r", capture=False, settings=settings).finish()
    said(capsys)

    run = kiroku.init(id="resume-me-1", resume="allow", capture=False, settings=settings)

    assert said(capsys) == [f"Kiroku: resuming run r → {run.url}"]
    run.finish()


def test_quiet_says_nothing(settings, capsys):
    kiroku.init(name="r", capture=False, settings=settings, quiet=True).finish()

    assert said(capsys) == []


def test_kiroku_silent_says_nothing(settings, capsys, monkeypatch):
    monkeypatch.setenv("KIROKU_SILENT", "true")

    kiroku.init(name="r", capture=False, settings=settings).finish()

    assert said(capsys) == []


def test_a_malformed_kiroku_silent_is_refused_by_name(settings, monkeypatch):
    monkeypatch.setenv("KIROKU_SILENT", "maybe")

    with pytest.raises(kiroku.ConfigError) as raised:
        kiroku.init(name="r", capture=False, settings=settings)

    assert raised.value.message == "KIROKU_SILENT must be true or false; got 'maybe'"


def test_nan_and_infinities_warn_once_per_key_and_are_recorded(settings, reader, caplog):
    caplog.set_level(logging.WARNING, logger="kiroku")
    run = kiroku.init(name="r", capture=False, settings=settings, quiet=True)

    for step in range(3):
        run.log({"loss": math.nan, "grad": math.inf if step else 1.0, "acc": 0.5})
    run.finish()

    assert [r.getMessage() for r in caplog.records] == [
        "kiroku: metric 'loss' is NaN at step 0; recorded as such (shown once per key)",
        "kiroku: metric 'grad' is Infinity at step 1; recorded as such (shown once per key)",
    ]
    assert [value for _, value in run_points(reader, run.id, "grad")] == [1.0, math.inf, math.inf]
    assert all(math.isnan(value) for _, value in run_points(reader, run.id, "loss"))
