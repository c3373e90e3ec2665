"""Signing in and out, the projects list and creation, and personal tokens."""

from __future__ import annotations

import re

import pytest

from apps.accounts.models import ApiToken
from apps.accounts.tokens import token_hash
from apps.audit.models import AuditEvent
from apps.projects.models import Membership, Project, Role
from tests.factories import ProjectFactory, UserFactory


@pytest.fixture
def alice(db):
    user = UserFactory(username="alice")
    user.set_password("correct horse battery")
    user.save()
    return user


def test_signing_in_with_the_right_password_lands_on_the_projects(client, alice):
    response = client.post("/login", {"username": "alice", "password": "correct horse battery"})
    assert (response.status_code, response["Location"]) == (302, "/projects")


def test_signing_in_with_a_wrong_password_says_so(client, alice):
    response = client.post("/login", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "Your username and password didn't match." in response.content.decode()


def test_sign_in_returns_to_the_page_asked_for(client, alice):
    response = client.post(
        "/login",
        {"username": "alice", "password": "correct horse battery", "next": "/projects/vision"},
    )
    assert response["Location"] == "/projects/vision"


def test_sign_in_never_redirects_off_site(client, alice):
    response = client.post(
        "/login",
        {"username": "alice", "password": "correct horse battery", "next": "https://evil.example"},
    )
    assert response["Location"] == "/projects"


def test_the_sign_in_form_needs_a_csrf_token(alice):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/login", {"username": "alice", "password": "correct horse battery"})
    assert response.status_code == 403


def test_signing_out_is_a_post(portal_as, alice):
    client = portal_as(alice)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout")["Location"] == "/login"
    assert client.get("/projects").status_code == 302


def test_the_projects_list_shows_only_readable_projects(portal_as, member, project, other_project):
    html = portal_as(member).get("/projects").content.decode()
    assert re.findall(r'<a href="/projects/([a-z-]+)">', html) == ["vision"]


def test_a_user_without_projects_sees_what_to_do(portal_as, outsider, project):
    html = portal_as(outsider).get("/projects").content.decode()
    assert "You are not in any project yet." in html


def test_creating_a_project_makes_the_creator_admin(portal_as, outsider):
    response = portal_as(outsider).post(
        "/projects", {"slug": "speech", "name": "Speech", "description": ""}
    )
    assert response["Location"] == "/projects/speech"
    project = Project.objects.get(slug="speech")
    assert Membership.objects.get(project=project, user=outsider).role == Role.ADMIN


def test_a_bad_project_slug_is_shown_in_the_form(portal_as, outsider):
    response = portal_as(outsider).post("/projects", {"slug": "Bad Slug!", "name": "X"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert" id="new-project-error">slug' in html
    assert 'value="Bad Slug!"' in html
    assert Project.objects.filter(name="X").count() == 0


def test_a_project_name_is_escaped(portal_as, member):
    project = ProjectFactory(slug="xss", name="<script>alert(1)</script>")
    Membership.objects.create(project=project, user=member, role=Role.VIEWER)
    html = portal_as(member).get("/projects").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_new_token_is_shown_once_and_stored_hashed(portal_as, member):
    html = portal_as(member).post("/tokens", {"name": "laptop"}).content.decode()
    secret = re.search(r'id="new-token" readonly value="(krk_[^"]+)"', html).group(1)
    token = ApiToken.objects.get(user=member, name="laptop")
    assert token.token_hash == token_hash(secret)
    assert secret not in portal_as(member).get("/tokens").content.decode()


def test_a_new_token_comes_with_its_kiroku_login_command(portal_as, member):
    html = portal_as(member).post("/tokens", {"name": "laptop"}).content.decode()
    secret = re.search(r'id="new-token" readonly value="(krk_[^"]+)"', html).group(1)
    assert (
        f'<pre id="login-code">kiroku login --url http://testserver --token {secret}</pre>' in html
    )
    assert 'data-copy="login-code"' in html
    assert "<code>KIROKU_TOKEN</code>" in html


def test_a_token_without_a_name_is_refused(portal_as, member):
    response = portal_as(member).post("/tokens", {"name": ""})
    assert response.status_code == 400
    assert "name must be 1 to 100 characters" in response.content.decode()
    assert ApiToken.objects.filter(user=member).count() == 0


def test_revoking_a_token_is_audited(portal_as, member):
    portal_as(member).post("/tokens", {"name": "laptop"})
    token = ApiToken.objects.get(user=member)
    response = portal_as(member).post("/tokens", {"revoke": token.pk})
    assert response["Location"] == "/tokens"
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(action="token.revoke", target_id=str(token.pk)).count() == 1


def test_another_users_token_cannot_be_revoked(portal_as, member, viewer):
    portal_as(viewer).post("/tokens", {"name": "theirs"})
    token = ApiToken.objects.get(user=viewer)
    assert portal_as(member).post("/tokens", {"revoke": token.pk}).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_tokens_page_lists_only_my_personal_tokens(portal_as, member, viewer):
    portal_as(member).post("/tokens", {"name": "mine"})
    portal_as(viewer).post("/tokens", {"name": "theirs"})
    html = portal_as(member).get("/tokens").content.decode()
    assert re.findall(r"<tr>\s*<td>([^<]+)</td>", html) == ["mine"]
