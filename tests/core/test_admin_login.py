"""The Django admin's sign-in goes through the portal's sign-in throttle (the ``login``
rate per address and username, ``anon`` per address, one count for both pages), and
production does not mount the admin at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.test_throttles import PASSWORD, rates  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture
def staff_with_password(staff, settings):
    # A fast hasher: these tests count attempts, they do not test hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    staff.set_password(PASSWORD)
    staff.save()
    return staff


def admin_sign_in(client, username: str, password: str = "wrong-password"):
    # The admin's form carries ``next`` (the admin's index) as a hidden field.
    body = {"username": username, "password": password, "next": "/admin/"}
    return client.post(ADMIN_LOGIN, body)


@pytest.mark.django_db
def test_admin_sign_in_attempts_are_limited_per_address_and_username(
    rates,  # noqa: F811
    client,
    staff_with_password,
):
    staff = staff_with_password
    rates(login=(2, 60))
    assert [admin_sign_in(client, staff.username).status_code for _ in range(2)] == [200, 200]

    refused = admin_sign_in(client, staff.username, password=PASSWORD)

    # 45 s to the end of the minute, then 30 s until 2 counted attempts weigh under 1.
    assert (refused.status_code, refused["Retry-After"]) == (429, "75")
    assert '<p class="errornote">\n    Too many sign-in attempts; try again in 75 s.\n</p>' in (
        refused.content.decode()
    )
    # Not tried, so not signed in even with the right password.
    assert "_auth_user_id" not in client.session
    assert admin_sign_in(client, "someone-else").status_code == 200


@pytest.mark.django_db
def test_admin_sign_in_attempts_are_limited_per_address_whatever_the_username(
    rates,  # noqa: F811
    client,
    staff_with_password,
):
    rates(anon=(2, 60))
    assert [admin_sign_in(client, name).status_code for name in ("ann", "ben")] == [200, 200]

    assert admin_sign_in(client, staff_with_password.username, password=PASSWORD).status_code == (
        429
    )
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_admin_and_the_portal_count_against_one_limit(
    rates,  # noqa: F811
    client,
    staff_with_password,
):
    staff = staff_with_password
    rates(login=(2, 60))
    assert client.post("/login", {"username": staff.username, "password": "x"}).status_code == 200
    assert admin_sign_in(client, staff.username).status_code == 200

    assert admin_sign_in(client, staff.username, password=PASSWORD).status_code == 429
    portal = client.post("/login", {"username": staff.username, "password": PASSWORD})
    assert portal.status_code == 429


@pytest.mark.django_db
def test_an_admin_sign_in_within_the_rate_signs_in(
    rates,  # noqa: F811
    client,
    staff_with_password,
):
    rates(login=(2, 60))
    assert admin_sign_in(client, staff_with_password.username).status_code == 200

    response = admin_sign_in(client, staff_with_password.username, password=PASSWORD)

    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert client.session["_auth_user_id"] == str(staff_with_password.pk)


RESOLVE_ADMIN = (
    "import django; django.setup()\n"
    "from django.urls import Resolver404, resolve\n"
    "try:\n"
    "    print(resolve('/admin/login/').view_name)\n"
    "except Resolver404:\n"
    "    print('not mounted')\n"
)


def resolve_admin_in_a_fresh_process(tmp_path, **variables: str) -> str:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("KIROKU_") and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    environment.update(
        {"DJANGO_SETTINGS_MODULE": "config.settings", "KIROKU_VAR_DIR": str(tmp_path), **variables}
    )
    result = subprocess.run(
        [sys.executable, "-c", RESOLVE_ADMIN],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_development_mounts_the_admin(tmp_path):
    assert resolve_admin_in_a_fresh_process(tmp_path) == "admin:login"


def test_production_does_not_mount_the_admin(tmp_path):
    production = {"KIROKU_ENV": "production", "KIROKU_SECRET_KEY": "k" + "0123456789abcdef" * 4}

    assert resolve_admin_in_a_fresh_process(tmp_path, **production) == "not mounted"
