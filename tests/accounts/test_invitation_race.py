"""Two people submit the same invitation at the same moment (PostgreSQL, real threads,
real transactions): one account is made, the other submit is the 404 page."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import connection, connections
from django.test import Client

from apps.accounts.models import Invitation, User
from apps.audit.models import AuditEvent
from apps.projects.models import Membership
from tests.accounts.conftest import PASSWORD

pytestmark = pytest.mark.postgres


def _dsn() -> str:
    db = connection.settings_dict  # the test database, not the configured one
    return f"host={db['HOST']} port={db['PORT'] or 5432} user={db['USER']} dbname={db['NAME']}"


def _waiting_backends(conn) -> int:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = %s",
        (connection.settings_dict["NAME"],),
    ).fetchone()
    return row[0]


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for both accepts to block")
        time.sleep(0.02)


def _submit(secret: str, username: str, results: dict) -> threading.Thread:
    def run():
        try:
            body = {"action": "signup", "username": username}
            body.update(password1=PASSWORD, password2=PASSWORD)
            results[username] = Client().post(f"/invite/{secret}", body).status_code
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_simultaneous_accepts_make_one_account(token):
    invitation = Invitation.objects.get()
    results: dict[str, int] = {}
    with psycopg.connect(_dsn(), autocommit=False) as blocker:
        # Hold the invitation's row so both accepts stop at their claim, inside their
        # transactions, having both passed every check before it.
        blocker.execute(
            "SELECT 1 FROM accounts_invitation WHERE id = %s FOR UPDATE", (invitation.pk,)
        )
        threads = [_submit(token, name, results) for name in ("dana_one", "dana_two")]
        _wait_for(lambda: _waiting_backends(blocker) == 2)
        blocker.rollback()
    for thread in threads:
        thread.join()
    assert sorted(results.values()) == [302, 404]
    [winner] = [name for name, status in results.items() if status == 302]
    assert list(
        User.objects.filter(email="dana@example.com").values_list("username", flat=True)
    ) == [winner]
    assert Membership.objects.filter(user__username=winner).count() == 2
    assert AuditEvent.objects.filter(action="invite.accept").count() == 1
    assert AuditEvent.objects.filter(action="member.add").count() == 2
