"""``manage.py create_token``: the way a first token is made."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.accounts.tokens import token_hash
from apps.audit.models import AuditEvent
from apps.projects.models import Project, Role

TOKEN_RE = re.compile(r"^krk_[A-Za-z0-9_-]{43,}$")


def create_token(*args: str) -> tuple[str, str]:
    """Run the command; return (stdout, stderr)."""
    out, err = StringIO(), StringIO()
    call_command("create_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _token_line(stdout: str) -> str:
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout
    assert TOKEN_RE.match(lines[0])
    return lines[0]


def test_prints_exactly_one_token_line(admin):
    stdout, _ = create_token("alice_admin")
    _token_line(stdout)


def test_the_notice_goes_to_stderr_without_the_secret(admin):
    stdout, stderr = create_token("alice_admin")
    secret = _token_line(stdout)
    assert "alice_admin" in stderr
    assert secret not in stderr


def test_the_printed_token_authenticates_as_a_personal_token(api_as, admin):
    secret = _token_line(create_token("alice_admin")[0])
    response = api_as(secret).get("/api/v1/me")
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["username"] == "alice_admin"
    assert body["token"] == {
        "name": "cli",
        "kind": "personal",
        "prefix": secret[:12],
        "project": None,
        "role": None,
        "expires_at": None,
    }


def test_the_printed_token_is_stored_only_as_its_hash(admin):
    secret = _token_line(create_token("alice_admin", "--name", "laptop")[0])
    token = ApiToken.objects.get()
    assert (token.name, token.token_hash) == ("laptop", token_hash(secret))


def test_a_project_token_is_a_member_service_token_of_that_project(api_as, admin, project):
    secret = _token_line(
        create_token("alice_admin", "--project", "vision", "--role", "member", "--name", "ci")[0]
    )
    token = ApiToken.objects.get(token_hash=token_hash(secret))
    assert (token.kind, token.project_id, token.role, token.user_id) == (
        "service",
        project.pk,
        Role.MEMBER,
        admin.pk,
    )
    me = api_as(secret).get("/api/v1/me").json()["token"]
    assert (me["kind"], me["project"], me["role"], me["name"]) == (
        "service",
        "vision",
        "member",
        "ci",
    )


def test_a_project_token_defaults_to_member(admin, project):
    create_token("alice_admin", "--project", "vision")
    assert ApiToken.objects.get().role == Role.MEMBER


def test_a_viewer_project_token(admin, project):
    create_token("alice_admin", "--project", "vision", "--role", "viewer")
    assert ApiToken.objects.get().role == Role.VIEWER


def test_a_project_token_is_audited_as_the_system(admin, project):
    create_token("alice_admin", "--project", "vision", "--role", "member")
    token = ApiToken.objects.get()
    event = AuditEvent.objects.get(action="token.create")
    assert (event.actor_type, event.actor_label, event.project_id) == (
        "system",
        "system",
        project.pk,
    )
    assert (event.target_type, event.target_id) == ("token", str(token.pk))
    assert event.metadata == {
        "kind": "service",
        "owner": "alice_admin",
        "role": "member",
        "expires_at": None,
    }


def test_the_admin_role_is_refused(admin, project):
    with pytest.raises(CommandError, match="invalid choice: 'admin'"):
        create_token("alice_admin", "--project", "vision", "--role", "admin")
    assert not ApiToken.objects.exists()


def test_a_role_without_a_project_is_refused(admin):
    with pytest.raises(CommandError, match=r"^--role only applies with --project$"):
        create_token("alice_admin", "--role", "viewer")
    assert not ApiToken.objects.exists()


def test_an_unknown_user_is_refused(db):
    with pytest.raises(CommandError, match=r"^no user named 'ghost'$"):
        create_token("ghost")
    assert not ApiToken.objects.exists()


def test_an_unknown_project_is_refused(admin):
    with pytest.raises(CommandError, match=r"^no project with slug 'nope'$"):
        create_token("alice_admin", "--project", "nope")
    assert not ApiToken.objects.exists()


def test_a_deleted_project_is_refused(admin, project):
    Project.objects.filter(pk=project.pk).update(deleted_at=timezone.now())
    with pytest.raises(CommandError, match=r"^no project with slug 'vision'$"):
        create_token("alice_admin", "--project", "vision")
    assert not ApiToken.objects.exists()


def test_expires_days_sets_the_expiry(admin):
    create_token("alice_admin", "--expires-days", "3")
    expected = timezone.now() + timedelta(days=3)
    expires_at = ApiToken.objects.get().expires_at
    assert abs(expires_at - expected) < timedelta(minutes=1)


@pytest.mark.parametrize("days", ["0", "-1"])
def test_expires_days_must_be_positive(admin, days):
    with pytest.raises(CommandError, match=r"^--expires-days must be between 1 and 36500$"):
        create_token("alice_admin", "--expires-days", days)
    assert not ApiToken.objects.exists()


def test_an_expiry_beyond_the_calendar_is_refused(admin):
    with pytest.raises(CommandError):
        create_token("alice_admin", "--expires-days", "3000000")
    assert not ApiToken.objects.exists()


def test_a_project_token_for_someone_outside_the_project_comes_with_a_warning(outsider, project):
    stdout, stderr = create_token("mallory_outsider", "--project", "vision")
    assert _token_line(stdout).startswith("krk_")
    assert (
        "Warning: mallory_outsider has no role in project 'vision', so this token will not "
        "work until they do (or until the project lets service tokens outlive their creator)."
    ) in stderr


def test_a_project_token_for_a_member_comes_without_a_warning(admin, project):
    _, stderr = create_token("alice_admin", "--project", "vision")
    assert "Warning" not in stderr
