"""``manage.py ensure_admin``: the local admin of a fresh install, its password shown
once in a framed block, and ``--reset`` (``make admin-password``), the way back when
that password is lost."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.core.admin_block import admin_block_text
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD_LINE = re.compile(r"^\|  +password:  (\S+) +\|$", re.MULTILINE)


def ensure_admin(*args: str) -> str:
    out = io.StringIO()
    call_command("ensure_admin", *args, stdout=out)
    return out.getvalue()


def shown_password(out: str) -> str:
    (password,) = PASSWORD_LINE.findall(out)
    return password


def test_the_first_run_creates_admin_and_frames_its_password_with_the_way_back(settings):
    settings.KIROKU_BASE_URL = "http://127.0.0.1:8000"

    out = ensure_admin()

    password = shown_password(out)
    admin = get_user_model().objects.get(username="admin")
    assert (admin.is_superuser, admin.check_password(password)) == (True, True)
    lines = out.rstrip("\n").splitlines()
    assert [lines[0], lines[-1]] == ["+" + "-" * (len(lines[0]) - 2) + "+"] * 2
    assert all(line.startswith("|  ") and line.endswith("  |") for line in lines[1:-1])
    inside = [line[3:-3].rstrip() for line in lines[1:-1]]
    assert inside == admin_block_text("http://127.0.0.1:8000/login", password)


def test_a_second_run_says_the_admin_exists_and_how_to_get_a_new_password():
    ensure_admin()

    assert ensure_admin() == (
        "The admin account 'admin' exists (its password was shown when it was made). "
        "Lost it? `make admin-password` (or `manage.py ensure_admin --reset`) prints a new one.\n"
    )


def test_reset_prints_a_new_password_and_the_old_one_stops_working():
    first = shown_password(ensure_admin())

    out = ensure_admin("--reset")

    new = shown_password(out)
    admin = get_user_model().objects.get(username="admin")
    assert (admin.check_password(first), admin.check_password(new)) == (False, True)
    assert [line[3:-3].rstrip() for line in out.rstrip("\n").splitlines()[1:-1]] == [
        "New password for the admin account 'admin':",
        f"  password:  {new}",
        "",
        "The old password no longer works. This one is shown only this once.",
    ]


def test_reset_without_an_admin_user_resets_the_only_superuser():
    root = UserFactory(username="root", is_superuser=True, is_staff=True)

    new = shown_password(ensure_admin("--reset"))

    root.refresh_from_db()
    assert root.check_password(new)
    assert not get_user_model().objects.filter(username="admin").exists()


def test_reset_with_several_superusers_and_no_admin_asks_which():
    UserFactory(username="root", is_superuser=True)
    UserFactory(username="ops", is_superuser=True)

    with pytest.raises(CommandError) as raised:
        ensure_admin("--reset")

    assert str(raised.value) == (
        "there is no 'admin' and several superusers (root, ops); choose one with --username NAME"
    )


def test_reset_refuses_a_user_who_is_not_a_superuser():
    bob = UserFactory(username="bob")
    bob.set_password("kept-as-it-was")
    bob.save()

    with pytest.raises(CommandError) as raised:
        ensure_admin("--reset", "--username", "bob")

    assert str(raised.value) == (
        "'bob' is not a superuser; `manage.py changepassword bob` sets any user's password"
    )
    bob.refresh_from_db()
    assert bob.check_password("kept-as-it-was")


def test_reset_names_the_superusers_when_the_user_does_not_exist():
    ensure_admin()

    with pytest.raises(CommandError) as raised:
        ensure_admin("--reset", "--username", "nobody")

    assert str(raised.value) == "no user 'nobody'; the superusers are: admin"


def test_reset_on_a_fresh_database_creates_the_admin():
    out = ensure_admin("--reset")

    admin = get_user_model().objects.get(username="admin")
    assert admin.check_password(shown_password(out))
    assert "Created the admin account." in out


def test_reset_signs_out_the_sessions_made_with_the_old_password(client):
    ensure_admin()
    client.force_login(get_user_model().objects.get(username="admin"))
    assert client.get("/projects").status_code == 200

    ensure_admin("--reset")

    answer = client.get("/projects")
    assert (answer.status_code, answer.headers["Location"]) == (302, "/login?next=/projects")
