"""The server misbehaves (through the fault proxy, or is not there at all) and no point
is lost or recorded twice."""

from __future__ import annotations

import json
import logging
import time

import kiroku
import pytest
from kiroku.settings import Settings
from kiroku.spool import spool_list, spool_read
from kiroku.sync import sync

from tests.sdk.conftest import log_requests
from tests.sdk.proxy import Rule, dead_url

N = 3_000


def _log_slowly(run: kiroku.Run, n: int, seconds: float) -> None:
    """n points of "loss" (value = step) spread over about ``seconds``."""
    chunk = max(1, n // 20)
    for start in range(0, n, chunk):
        for step in range(start, min(n, start + chunk)):
            run.log({"loss": float(step)}, step=step)
        time.sleep(seconds / 20)


def _wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def _assert_each_point_once(reader, run_id: str, n: int) -> None:
    run = reader.run(run_id)
    assert run.metric_summaries["loss"]["count"] == n
    assert [(p["step"], p["value"]) for p in run.history("loss")] == [
        (s, float(s)) for s in range(n)
    ]


def _assert_no_point_sent_twice(proxy) -> None:
    """Every forwarded batch stored new points only: a point re-sent under another
    batch_id would count as unchanged; a replayed batch_id answers its first answer."""
    answers = [s.upstream for s in log_requests(proxy) if s.upstream and "stored" in s.upstream]
    assert answers
    assert all(a["stored"]["metrics_unchanged"] == 0 for a in answers)
    assert all(a["stored"]["metrics_replaced"] == 0 for a in answers)


def test_503_for_a_while_then_recovery_delivers_every_point_once(via_proxy, proxy, reader):
    proxy.add(Rule("status", path="/log", status=503))
    run = kiroku.init(capture=False, settings=via_proxy)
    _log_slowly(run, N // 2, seconds=0.5)
    _wait_until(lambda: run._sender.state == "spooling")  # failing for spool_after
    for step in range(N // 2, N):
        run.log({"loss": float(step)}, step=step)
    _wait_until(lambda: run._sender.spool.pending_points == N)
    proxy.clear()
    run.finish()

    assert any(s.status == 503 for s in log_requests(proxy))
    _assert_each_point_once(reader, run.id, N)
    _assert_no_point_sent_twice(proxy)
    assert reader.run(run.id).status == "FINISHED"
    assert spool_list(via_proxy.spool_dir) == []  # delivered, so moved to synced/


def test_refused_connections_mid_run_lose_nothing(via_proxy, proxy, reader):
    run = kiroku.init(capture=False, settings=via_proxy)
    run.log({"loss": 0.0}, step=0)
    proxy.refuse()  # the cable is pulled
    _log_slowly(run, N, seconds=1.0)
    proxy.accept()
    run.finish()
    _assert_each_point_once(reader, run.id, N)
    assert reader.run(run.id).status == "FINISHED"


def test_429_retry_after_is_honoured(via_proxy, proxy, reader):
    proxy.add(Rule("status", path="/log", status=429, retry_after="1", times=1))
    with kiroku.init(capture=False, settings=via_proxy) as run:
        for step in range(10):
            run.log({"loss": float(step)}, step=step)
    refused, retried = log_requests(proxy)[:2]
    assert refused.status == 429
    assert retried.body["batch_id"] == refused.body["batch_id"]
    # backoff_base is 0.05 s here: only Retry-After explains a 1 s gap.
    assert retried.at - refused.answered_at >= 0.99
    _assert_each_point_once(reader, run.id, 10)


def test_batch_timed_out_after_commit_is_retried_without_duplicates(via_proxy, proxy, reader):
    proxy.add(Rule("hang_after_forward", path="/log", hang=1.0, times=1))
    with kiroku.init(capture=False, settings=via_proxy.with_overrides(timeout=0.5)) as run:
        for step in range(100):
            run.log({"loss": float(step)}, step=step)
    first, second = log_requests(proxy)[:2]
    assert first.action == "hang_after_forward"
    assert first.upstream["stored"]["metrics"] > 0  # the server committed it
    assert first.status is None  # but the client never got the answer
    assert second.body == first.body  # the same batch, the same batch_id
    assert second.upstream == first.upstream  # the server replayed its first answer
    _assert_each_point_once(reader, run.id, 100)


def test_memory_stays_bounded_while_a_request_hangs(via_proxy, proxy, reader):
    tight = via_proxy.with_overrides(
        timeout=1.0, max_queue_points=2_000, spill_points=1_000, max_batch_points=500
    )
    proxy.add(Rule("hang_after_forward", path="/log", hang=1.5, times=1))
    run = kiroku.init(capture=False, settings=tight)
    longest, biggest_drop, before = 0, 0, 0
    for step in range(10_000):
        run.log({"loss": float(step)}, step=step)
        now = len(run._sender.points)
        longest = max(longest, now)
        biggest_drop = max(biggest_drop, before + 1 - now)
        before = now
    # The caller spills above 2,000 points; while the sender thread is itself moving
    # a batch to disk the caller goes on, but waits for it one batch (500) past that.
    assert longest <= 2_000 + 500 + 1
    # log() moves at most two batches to disk per call, never the whole backlog at once.
    assert biggest_drop <= 2 * 500
    run.finish()
    _assert_each_point_once(reader, run.id, 10_000)
    _assert_no_point_sent_twice(proxy)


def test_unreachable_server_spools_and_sync_uploads_once(settings, reader, server, monkeypatch):
    from kiroku.cli import main

    offline = settings.with_overrides(url=dead_url(), init_timeout=0.2)
    with kiroku.init(config={"lr": 0.1}, capture=False, settings=offline) as run:
        for step in range(N):
            run.log({"loss": float(step)}, step=step)
        run.summary["best"] = 1.5
    assert run.id is None  # never reached the server
    (path,) = spool_list(settings.spool_dir)
    state = spool_read(path)
    assert state.has_finish and state.pending_points == N

    monkeypatch.setenv("KIROKU_TOKEN", settings.token)
    monkeypatch.setenv("KIROKU_URL", server)
    assert main(["sync", "-q"]) == 0
    (uploaded,) = reader.runs("vision")
    assert uploaded.client_id == run.client_id
    assert uploaded.status == "FINISHED"
    assert uploaded.params == {"lr": "0.1"}
    assert uploaded.summary == {"best": 1.5}
    _assert_each_point_once(reader, uploaded.id, N)

    from apps.runs.models import LogBatch

    batches = LogBatch.objects.count()
    assert main(["sync", "-q"]) == 0  # nothing left: a no-op
    assert LogBatch.objects.count() == batches
    assert len(list(reader.runs("vision"))) == 1


def test_sync_after_a_partial_send_never_duplicates(settings, proxy, reader):
    offline = settings.with_overrides(mode="offline", max_batch_points=500)
    with kiroku.init(capture=False, settings=offline) as run:
        for step in range(N):
            run.log({"loss": float(step)}, step=step)
    # Batch 1 lands; batch 2 lands but its answer is lost; then the server is down.
    proxy.add(Rule("hang_after_forward", path="/log", hang=1.0, times=1, after=1))
    proxy.add(Rule("status", path="/log", status=503))
    (first,) = sync(settings.with_overrides(url=proxy.url, timeout=0.5), progress=False)
    assert not first.complete and first.records == 2  # the create and batch 1
    proxy.clear()
    (second,) = sync(settings.with_overrides(url=proxy.url), progress=False)
    assert second.complete and second.finished
    _assert_each_point_once(reader, second.run_id, N)
    _assert_no_point_sent_twice(proxy)
    assert sync(settings, progress=False) == []


def test_server_refused_items_are_dropped_and_the_rest_kept(settings, reader, caplog):
    """A spool whose batch holds items the server refuses (written by hand, as an older
    client or an edit could): those items go, once reported; the rest is recorded."""
    caplog.set_level(logging.WARNING, logger="kiroku")
    settings.spool_dir.mkdir(parents=True)
    points = [
        {"key": "loss", "value": 1.0, "step": 0},
        {"key": "loss", "value": "high", "step": 1},
        {"key": "loss", "value": 3.0, "step": 2},
        {"key": "bad;key", "value": 4.0, "step": 3},
        {"key": "loss", "value": "oops", "step": 4},
    ]
    lines = [
        {"kind": "create", "seq": 0, "project": "vision", "body": {"client_id": "handmade-1"}},
        {"kind": "log", "seq": 1, "points": 5, "body": {"batch_id": "b1", "metrics": points}},
        {
            "kind": "log",
            "seq": 2,
            "body": {"batch_id": "b2", "params": {"lr": "0.1", "x": "y" * 7000}},
        },
        {"kind": "finish", "seq": 3, "body": {"status": "finished"}},
    ]
    path = settings.spool_dir / "handmade-1.s.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))

    (result,) = sync(settings, progress=False)
    assert result.complete
    run = reader.run(result.run_id)
    assert [(p["step"], p["value"]) for p in run.history("loss")] == [(0, 1.0), (2, 3.0)]
    assert run.params == {"lr": "0.1"}
    assert run.status == "FINISHED"
    refusals = [r.getMessage() for r in caplog.records if "dropped it" in r.getMessage()]
    # One line per kind of refusal (the two bad values share one), not one per item.
    assert len(refusals) == 3


def test_refused_token_halts_sending_and_sync_uploads_later(via_proxy, proxy, settings, reader):
    with kiroku.init(capture=False, settings=via_proxy) as run:
        proxy.add(Rule("status", path="/log", status=401))
        for step in range(N):
            run.log({"loss": float(step)}, step=step)
    assert run._sender.state == "halted"
    assert reader.run(run.id).metrics == {}
    (result,) = sync(settings, progress=False)
    assert result.complete
    _assert_each_point_once(reader, run.id, N)


@pytest.mark.parametrize("status", [400, 404])
def test_init_raises_when_the_server_refuses_the_run(settings, status):
    bad = {400: {"group": "x" * 300}, 404: {"project": "no-such-project"}}[status]
    kwargs = {"capture": False, "settings": settings}
    if "project" in bad:
        kwargs["project"] = bad["project"]
    else:
        kwargs["group"] = bad["group"]
    expected = kiroku.NotFound if status == 404 else kiroku.InvalidInput
    with pytest.raises(expected):
        kiroku.init(**kwargs)


def test_init_raises_on_a_bad_token(settings):
    with pytest.raises(kiroku.AuthError):
        kiroku.init(capture=False, settings=Settings(**{**settings.__dict__, "token": "krk_x"}))


def test_nothing_listening_neither_init_nor_finish_waits_out_the_deadlines(settings):
    # The deadlines are a minute each; a refused connection means nobody is there, so
    # the run starts and ends at once and keeps its data in the spool.
    down = settings.with_overrides(url=dead_url(), init_timeout=60.0, spool_after=60.0)
    started = time.monotonic()
    with kiroku.init(capture=False, settings=down) as run:
        run.log({"loss": 1.0})
    assert time.monotonic() - started < 30.0
    assert run._sender.spool_left
