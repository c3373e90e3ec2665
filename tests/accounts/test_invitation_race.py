"""Two people submit the same invitation at the same moment (PostgreSQL, real threads,
real transactions): one account is made, the other submit is the 404 page."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import connections
from django.test import Client

from apps.accounts.models import Invitation, User
from apps.audit.models import AuditEvent
from apps.projects.models import Membership
from tests.accounts.conftest import PASSWORD
from tests.pg_locks import pg_test_dsn, wait_for, waiting_backends

pytestmark = pytest.mark.postgres


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
    with psycopg.connect(pg_test_dsn(), autocommit=False) as blocker:
        # Hold the invitation's row so both accepts stop at their claim, inside their
        # transactions, having both passed every check before it.
        blocker.execute(
            "SELECT 1 FROM accounts_invitation WHERE id = %s FOR UPDATE", (invitation.pk,)
        )
        threads = [_submit(token, name, results) for name in ("dana_one", "dana_two")]
        wait_for(lambda: waiting_backends(blocker) == 2, "both accepts to block")
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
