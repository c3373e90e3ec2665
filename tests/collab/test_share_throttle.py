"""Share-link pages under load: page views and token guesses are throttled per client
address (429 with Retry-After), and ``share_link.access`` is audited at most once per
link, address and clock hour while the view count stays exact."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.collab.models import ShareLink
from apps.core import throttles

API = "/api/v1"
# 15 s into a clock hour (and into a minute), so waits and windows are exact.
HOUR = 3600 * 500_000
NOW = HOUR + 15.0
GUESS = "/s/" + "A" * 43


@pytest.fixture
def clock(settings, monkeypatch):
    """A cache of this test's own, no throttle but ``share`` (off unless a test sets
    it), and the throttles' clock at NOW; ``clock.at(t)`` moves it."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"share-test-{uuid.uuid4().hex}",
        }
    }
    settings.KIROKU_THROTTLE_RATES = dict.fromkeys(settings.KIROKU_THROTTLE_RATES)

    class Clock:
        now = NOW

        def at(self, when: float) -> None:
            self.now = when

    fixed = Clock()
    monkeypatch.setattr(throttles, "clock", lambda: fixed.now)
    return fixed


@pytest.fixture
def share_rate(settings, clock):
    def set_rate(requests: int, seconds: int = 60) -> None:
        settings.KIROKU_THROTTLE_RATES = {
            **settings.KIROKU_THROTTLE_RATES,
            "share": (requests, seconds),
        }

    return set_rate


@pytest.fixture
def shared(as_member, run_id) -> str:
    """A link to the member's run (one metric), as its /s/<token> path."""
    body = {"batch_id": "b", "metrics": [{"key": "loss", "value": 1.0, "step": 0}]}
    assert as_member.post(f"{API}/runs/{run_id}/log", body).status_code == 200
    response = as_member.post(f"{API}/runs/{run_id}/share-links", {})
    return urlsplit(response.json()["url"]).path


def visitor(address: str = "203.0.113.9") -> Client:
    return Client(REMOTE_ADDR=address)


# ---- the throttle -----------------------------------------------------------------------

MESSAGE = (
    "Too many requests for shared pages from your address (at most 3 per minute); "
    "try again in 65 s."
)


def test_page_views_over_the_rate_get_a_429_page_with_retry_after(share_rate, shared):
    share_rate(3)
    client = visitor()
    assert [client.get(shared).status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get(shared)
    # 45 s to the end of the minute, then 20 s until 3 counted views weigh under 2.
    assert (refused.status_code, refused["Retry-After"]) == (429, "65")
    assert refused["Content-Type"].startswith("text/html")
    assert f'<p role="alert" id="too-many">{MESSAGE}</p>' in refused.content.decode()
    # Refused before the link is looked up: the view is neither counted nor audited.
    assert ShareLink.objects.get().view_count == 3


def test_token_guesses_count_on_every_url_under_s(share_rate, shared):
    share_rate(3)
    client = visitor()
    guesses = [GUESS, f"{GUESS}/metrics", f"{GUESS}/metrics/history?key=loss"]
    assert [client.get(path).status_code for path in guesses] == [404, 404, 404]
    assert client.get(shared).status_code == 429
    assert client.get(f"{GUESS}/status").status_code == 429


def test_chart_data_for_a_throttled_address_is_a_json_429(share_rate, shared):
    share_rate(3)
    client = visitor()
    for _ in range(3):
        client.get(GUESS)
    refused = client.get(f"{shared}/metrics/history", {"key": "loss"})
    assert (refused.status_code, refused["Retry-After"]) == (429, "65")
    assert refused.json() == {"error": {"code": "throttled", "message": MESSAGE, "field": None}}


def test_what_a_page_loads_with_a_good_token_is_not_counted(share_rate, shared):
    share_rate(3)
    client = visitor()
    fragments = [f"{shared}/metrics", f"{shared}/metrics/history?key=loss", f"{shared}/status"]
    assert {client.get(path).status_code for path in fragments * 5} == {200}
    assert [client.get(shared).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_each_address_has_its_own_bucket(share_rate, shared):
    share_rate(2)
    assert [visitor("203.0.113.9").get(shared).status_code for _ in range(3)] == [200, 200, 429]
    assert visitor("198.51.100.4").get(shared).status_code == 200


def test_off_means_no_limit(clock, shared):
    assert {visitor().get(GUESS).status_code for _ in range(100)} == {404}


# ---- audited once per link, address and hour -------------------------------------------


def accesses() -> list[tuple[str, str]]:
    events = AuditEvent.objects.filter(action="share_link.access").order_by("pk")
    return [(event.ip, event.created_at.isoformat()) for event in events]


def test_views_from_one_address_in_one_hour_are_one_audit_row(clock, shared):
    for offset in (0, 60, 1800, 3584):  # up to the last second of that clock hour
        clock.at(NOW + offset)
        assert visitor().get(shared).status_code == 200
    link = ShareLink.objects.get()
    assert link.view_count == 4
    assert [ip for ip, _ in accesses()] == ["203.0.113.9"]


def test_another_address_is_another_row(clock, shared):
    for address in ("203.0.113.9", "203.0.113.9", "198.51.100.4", "198.51.100.4"):
        visitor(address).get(shared)
    assert ShareLink.objects.get().view_count == 4
    assert [ip for ip, _ in accesses()] == ["203.0.113.9", "198.51.100.4"]


def test_the_next_hour_is_another_row(clock, shared):
    visitor().get(shared)
    clock.at(NOW + 3600)
    visitor().get(shared)
    visitor().get(shared)
    assert ShareLink.objects.get().view_count == 3
    assert [ip for ip, _ in accesses()] == ["203.0.113.9", "203.0.113.9"]


def test_each_link_is_audited_on_its_own(clock, shared, as_member, run_id):
    other = urlsplit(as_member.post(f"{API}/runs/{run_id}/share-links", {}).json()["url"]).path
    visitor().get(shared)
    visitor().get(other)
    visitor().get(other)
    links = sorted(
        AuditEvent.objects.filter(action="share_link.access").values_list("actor_id", flat=True)
    )
    assert links == sorted(str(link.pk) for link in ShareLink.objects.all())


def test_a_cache_that_fails_audits_every_view(clock, shared, monkeypatch):
    class Broken:
        def add(self, *args, **kwargs):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(throttles, "cache", Broken())
    visitor().get(shared)
    visitor().get(shared)
    assert len(accesses()) == 2
    assert ShareLink.objects.get().view_count == 2
