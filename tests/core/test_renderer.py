"""The API's JSON renderer writes integers exactly, however large: values a client
stored as sent (a run's summary, environment, a rule's threshold) may be past the 64
bits orjson writes, and once stored they must still be answered, not a 500."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from apps.core.renderers import StrictJSONRenderer

BIG = 2**64 + 1


def test_an_integer_past_64_bits_is_written_exactly_in_the_same_format():
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    rendered = StrictJSONRenderer().render({"at": at, "big": BIG, "name": "é", "x": 0.5})
    assert rendered == (
        b'{"at":"2026-01-02T03:04:05.678901Z","big":18446744073709551617,"name":"\xc3\xa9","x":0.5}'
    )


def test_a_run_summary_past_64_bits_is_answered_back(as_member, run_id):
    finished = as_member.post(
        f"/api/v1/runs/{run_id}/finish", {"status": "finished", "summary": {"big": BIG}}
    )
    assert finished.status_code == 200
    again = as_member.get(f"/api/v1/runs/{run_id}")
    assert again.status_code == 200
    assert json.loads(again.content)["summary"] == {"big": BIG}
