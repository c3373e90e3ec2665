"""The suite's own arrangements for running in parallel (``make test`` runs pytest-xdist
workers, see tests/conftest.py)."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password, identify_hasher, make_password

from config.celery import app
from tests.suite import REDIS_URL_GIVEN


def _db(url: str) -> int:
    return int(urlsplit(url).path.strip("/") or 0)


@pytest.mark.redis
def test_each_worker_uses_the_redis_database_below_the_given_one_by_its_number(request):
    given = request.config.stash[REDIS_URL_GIVEN]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    expected = _db(given) - int(worker.removeprefix("gw"))
    in_use = {
        "environment": os.environ["REDIS_URL"],
        "settings": settings.REDIS_URL,
        "celery": app.conf.broker_url,
        "cache": settings.CACHES["default"]["LOCATION"],
    }
    assert {name: _db(url) for name, url in in_use.items()} == dict.fromkeys(in_use, expected)


def test_passwords_are_hashed_with_md5_and_a_pbkdf2_hash_still_checks():
    # MD5 for speed (tests/conftest.py); PBKDF2 is what servers in other processes make.
    assert identify_hasher(make_password("x")).algorithm == "md5"
    assert check_password("x", make_password("x", hasher="pbkdf2_sha256"))
