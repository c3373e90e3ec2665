"""A throttled token delays a run's data, never loses it: the SDK waits out each 429's
Retry-After and sends again."""

from __future__ import annotations

import time
import uuid

import kiroku
from django.test import override_settings
from kiroku.spool import spool_list

from tests.sdk.conftest import log_requests, run_points

N = 320
# One request every two seconds for the run's token (a fresh bucket in a cache of this test's
# own); no other limit.
TINY = {"token": (1, 2), "ip": None, "anon": None, "login": None}
OWN_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": f"sdk-throttle-{uuid.uuid4().hex}",
    }
}


def test_a_run_throttled_by_its_token_delivers_every_point(via_proxy, proxy, reader):
    # The suite's spool_after (0.6 s) is shorter than these Retry-Afters: a 429 must
    # not count as an outage, or the run would spool instead of waiting them out.
    with override_settings(CACHES=OWN_CACHE, KIROKU_THROTTLE_RATES=TINY):
        run = kiroku.init(capture=False, settings=via_proxy)
        # Points for 0.8 s: a batch every flush interval (0.2 s) and a heartbeat each
        # second, where the rate allows one request in two seconds; finish() meets the
        # throttle too.
        for start in range(0, N, 40):
            for step in range(start, start + 40):
                run.log({"loss": float(step)}, step=step)
            time.sleep(0.1)
        run.finish()

    throttled = [s for s in log_requests(proxy) if s.status == 429]
    assert throttled
    assert {s.upstream["error"]["code"] for s in throttled} == {"throttled"}
    assert run_points(reader, run.id, "loss") == [(s, float(s)) for s in range(N)]
    assert reader.run(run.id).status == "FINISHED"
    assert spool_list(via_proxy.spool_dir) == []  # delivered, not left for `kiroku sync`
