"""Request rates: per token, per client address, without credentials, and for portal
sign-in; a throttled request is a 429 in Kiroku's error shape with Retry-After."""

from __future__ import annotations

import logging
import os
import uuid
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from apps.core import throttles
from apps.core.throttles import rate_hit
from apps.projects.models import Role
from config.env import env_rate
from tests.artifacts.helpers import upload
from tests.core.test_settings import start_up
from tests.factories import make_token

OFF = {"token": None, "ip": None, "anon": None, "login": None}
# A fixed clock 15 s into a minute, so waits are exact.
NOW = 1_800_000_000.0 + 15


@pytest.fixture
def rates(settings, monkeypatch):
    """Set ``rates(token=(3, 60))``: only those scopes limited, a cache of this test's
    own (never the shared Redis), and the clock at NOW."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"throttle-test-{uuid.uuid4().hex}",
        }
    }
    monkeypatch.setattr(throttles, "clock", lambda: NOW)
    settings.KIROKU_THROTTLE_RATES = OFF

    def set_rates(**limited):
        settings.KIROKU_THROTTLE_RATES = {**OFF, **limited}

    return set_rates


def statuses(client, path: str, n: int, **extra) -> list[int]:
    return [client.get(path, **extra).status_code for _ in range(n)]


@pytest.mark.django_db
def test_a_token_over_its_rate_is_429_in_the_error_shape_with_retry_after(rates, as_member):
    rates(token=(3, 60))
    assert statuses(as_member.client, "/api/v1/projects", 3) == [200, 200, 200]
    response = as_member.client.get("/api/v1/projects")
    # 45 s to the end of the minute, then 20 s until 3 counted requests weigh under 2.
    assert response.status_code == 429
    assert response["Retry-After"] == "65"
    assert response.json() == {
        "error": {
            "code": "throttled",
            "message": "too many requests: at most 3 per minute for this token; retry in 65 s",
            "field": None,
        }
    }


@pytest.mark.django_db
def test_each_token_has_its_own_bucket(rates, api_as, member, admin, project):
    rates(token=(2, 60))
    first, second = api_as(member), api_as(member)
    service = api_as(make_token(admin, project=project, role=Role.MEMBER, name="ci"))
    assert statuses(first.client, "/api/v1/projects", 3) == [200, 200, 429]
    assert statuses(second.client, "/api/v1/projects", 2) == [200, 200]
    assert statuses(service.client, "/api/v1/projects", 3) == [200, 200, 429]


@pytest.mark.django_db
def test_a_portal_session_is_limited_per_user(rates, member, project):
    rates(token=(2, 60))
    client = APIClient()
    client.force_login(member)
    assert statuses(client, "/api/v1/projects", 2) == [200, 200]
    response = client.get("/api/v1/projects")
    assert response.status_code == 429
    assert response.json()["error"]["message"].startswith(
        "too many requests: at most 2 per minute for this user; retry in "
    )


@pytest.mark.django_db
def test_the_address_ceiling_counts_every_token_from_one_address(rates, api_as, member, admin):
    rates(ip=(3, 60))
    one, other = api_as(member), api_as(admin)
    assert [c.client.get("/api/v1/projects").status_code for c in (one, other, one)] == [200] * 3
    response = other.client.get("/api/v1/projects")
    assert response.status_code == 429
    assert response.json()["error"]["message"] == (
        "too many requests: at most 3 per minute from this address; retry in 65 s"
    )


@pytest.mark.django_db
def test_requests_without_credentials_have_their_own_small_rate(rates):
    rates(anon=(1, 60))
    client = APIClient()
    assert client.get("/api/schema/?format=json").status_code == 200
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 429
    assert response.json()["error"]["message"] == (
        "too many requests: at most 1 per minute without a token from this address; retry in 105 s"
    )


@pytest.mark.django_db
def test_the_rate_without_credentials_does_not_count_token_requests(rates, as_member):
    rates(anon=(1, 60))
    assert statuses(as_member.client, "/api/v1/projects", 3) == [200, 200, 200]


@pytest.mark.django_db
def test_store_transfers_meet_only_the_address_ceiling(rates, as_member, run_id):
    rates(anon=(1, 60))
    artifact = upload(as_member, run_id, "model.bin", b"weights")
    store_path = urlsplit(
        as_member.client.get(f"/api/v1/artifacts/{artifact['id']}/download")["Location"]
    ).path
    anonymous = APIClient()
    assert statuses(anonymous, store_path, 3) == [200, 200, 200]
    rates(ip=(2, 60))
    assert statuses(anonymous, store_path, 3) == [200, 200, 429]


@pytest.mark.django_db
def test_x_forwarded_for_is_ignored_unless_behind_known_proxies(rates, as_member, settings):
    rates(ip=(1, 60))
    client = as_member.client
    assert client.get("/api/v1/projects", HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 200
    # With no trusted proxy a client cannot pick a fresh address per request.
    assert client.get("/api/v1/projects", HTTP_X_FORWARDED_FOR="192.0.2.2").status_code == 429
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    forwarded = "203.0.113.9, 198.51.100.1"  # the client's claim, then what our proxy saw
    assert client.get("/api/v1/projects", HTTP_X_FORWARDED_FOR=forwarded).status_code == 200
    assert client.get("/api/v1/projects", HTTP_X_FORWARDED_FOR=forwarded).status_code == 429
    other = "203.0.113.9, 198.51.100.2"
    assert client.get("/api/v1/projects", HTTP_X_FORWARDED_FOR=other).status_code == 200


def test_a_burst_at_the_end_of_a_window_still_counts_early_in_the_next():
    key = f"unit-{uuid.uuid4().hex}"
    assert [rate_hit(key, (10, 60), now=30.0) for _ in range(10)] == [None] * 10
    # 30 s left in this window, then 10 * (1 - t/60) + 1 <= 10 from t = 6 s.
    assert rate_hit(key, (10, 60), now=30.0) == 36
    assert rate_hit(key, (10, 60), now=61.0) == 5
    assert rate_hit(key, (10, 60), now=66.0) is None


@pytest.mark.django_db
def test_a_cache_that_fails_lets_requests_through_and_is_logged(
    rates, as_member, monkeypatch, caplog
):
    rates(token=(1, 60))

    class Broken:
        def get_many(self, keys):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(throttles, "cache", Broken())
    monkeypatch.setattr(throttles, "_last_cache_warning", float("-inf"))
    with caplog.at_level(logging.WARNING, logger="apps.core.throttles"):
        assert statuses(as_member.client, "/api/v1/projects", 2) == [200, 200]
    assert [r.getMessage() for r in caplog.records] == [
        "throttling skipped: the cache is not answering"
    ]


@pytest.mark.redis
@pytest.mark.django_db
def test_redis_counts_are_shared_and_limit(settings, as_member, monkeypatch):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"throttle-test-{uuid.uuid4().hex}",
        }
    }
    settings.KIROKU_THROTTLE_RATES = {**OFF, "token": (2, 60)}
    monkeypatch.setattr(throttles, "clock", lambda: NOW)
    assert statuses(as_member.client, "/api/v1/projects", 3) == [200, 200, 429]


# Portal sign-in


PASSWORD = "correct horse battery"


def sign_in(client, username: str, password: str = "wrong-password"):
    return client.post("/login", {"username": username, "password": password})


@pytest.fixture
def with_password(member, settings):
    # A fast hasher: these tests count attempts, they do not test hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    member.set_password(PASSWORD)
    member.save()
    return member


@pytest.mark.django_db
def test_sign_in_attempts_are_limited_per_address_and_username(rates, client, with_password):
    member = with_password
    rates(login=(2, 60))
    assert [sign_in(client, member.username).status_code for _ in range(2)] == [200, 200]
    refused = sign_in(client, member.username, password=PASSWORD)
    # 45 s to the end of the minute, then 30 s until 2 counted attempts weigh under 1.
    assert refused.status_code == 429
    assert refused["Retry-After"] == "75"
    assert "Too many sign-in attempts; try again in 75 s." in refused.content.decode()
    # Not tried, so not signed in even with the right password.
    assert "_auth_user_id" not in client.session
    assert sign_in(client, "someone-else").status_code == 200


@pytest.mark.django_db
def test_sign_in_attempts_are_limited_per_address_whatever_the_username(
    rates, client, with_password
):
    rates(anon=(2, 60))
    assert [sign_in(client, name).status_code for name in ("ann", "ben")] == [200, 200]
    assert sign_in(client, "cat").status_code == 429


@pytest.mark.django_db
def test_a_sign_in_within_the_rate_signs_in(rates, client, with_password):
    rates(login=(2, 60))
    assert sign_in(client, with_password.username).status_code == 200
    assert sign_in(client, with_password.username, password=PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(with_password.pk)


# Configuration


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("6000/min", (6000, 60)),
        ("5/s", (5, 1)),
        ("100 / hour", (100, 3600)),
        ("2/day", (2, 86400)),
        ("off", None),
        ("0", None),
    ],
)
def test_a_rate_is_parsed(monkeypatch, value, expected):
    monkeypatch.setenv("KIROKU_THROTTLE_TOKEN", value)
    assert env_rate("KIROKU_THROTTLE_TOKEN", "1/s") == expected


@pytest.mark.parametrize("value", ["lots", "10/5min", "0/min", "-3/s", "6000"])
def test_a_malformed_rate_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("KIROKU_THROTTLE_IP", value)
    with pytest.raises(ImproperlyConfigured) as error:
        env_rate("KIROKU_THROTTLE_IP", "1/s")
    assert str(error.value) == (
        "KIROKU_THROTTLE_IP must be a rate such as 6000/min (per s, min, hour or day), or "
        f"off; got {value!r}"
    )


def test_a_malformed_rate_stops_start_up(tmp_path):
    result = start_up(tmp_path, KIROKU_THROTTLE_ANON="sixty")
    assert result.returncode != 0
    assert "KIROKU_THROTTLE_ANON must be a rate such as 6000/min" in result.stderr
