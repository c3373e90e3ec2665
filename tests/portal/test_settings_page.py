"""Project settings: only admins open it; members, roles, service tokens and the
project's details change through the same services as the API, each audited, and a
refusal (the last admin, an unknown user, a bad name) is shown next to its form."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.test import Client

from apps.accounts.models import ApiToken, TokenKind
from apps.accounts.tokens import token_hash
from apps.audit.models import AuditEvent
from apps.projects.models import Membership, Role
from tests.factories import make_token

PAGE = "/projects/vision/settings"


def role_of(project, user) -> Role | None:
    role = Membership.objects.filter(project=project, user=user).values_list("role", flat=True)
    return Role(role[0]) if role else None


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


def text(response) -> str:
    return response.content.decode()


# ---- who may open it -------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status", "template"),
    [
        ("admin", 200, "portal/settings.html"),
        ("staff", 200, "portal/settings.html"),
        ("member", 403, "403.html"),
        ("viewer", 403, "403.html"),
        ("outsider", 404, "404.html"),
    ],
)
def test_only_admins_open_the_settings(who, status, template, persona, portal_as, project):
    response = portal_as(persona[who]).get(PAGE)
    assert response.status_code == status
    assert response.templates[0].name == template


def test_anonymous_is_sent_to_sign_in(portal_as, project):
    response = portal_as(None).get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == "/login?" + urlencode({"next": PAGE}, safe="/")


@pytest.mark.parametrize(("who", "status"), [("member", 403), ("viewer", 403), ("outsider", 404)])
def test_a_non_admin_post_changes_nothing(who, status, persona, portal_as, project, outsider):
    response = portal_as(persona[who]).post(
        PAGE, {"action": "member_add", "username": outsider.username, "role": "admin"}
    )
    assert response.status_code == status
    assert role_of(project, outsider) is None
    assert events("member.add") == []


def test_anonymous_post_is_sent_to_sign_in(portal_as, project, outsider):
    response = portal_as(None).post(
        PAGE, {"action": "member_add", "username": outsider.username, "role": "admin"}
    )
    assert response.status_code == 302
    assert role_of(project, outsider) is None


def test_a_post_without_the_csrf_token_is_refused(admin, project, outsider):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post(PAGE, {"action": "member_add", "username": outsider.username})
    assert response.status_code == 403
    assert role_of(project, outsider) is None


def test_the_page_lists_members_sections_and_placeholders(admin, portal_as, project):
    html = text(portal_as(admin).get(PAGE))
    rows = re.findall(r'<tr data-username="([^"]+)">', html)
    assert rows == ["alice_admin", "bob_member", "carol_viewer"]
    selected = re.findall(r'<option value="(\w+)" selected>', html)
    # The three members' current roles, then the add form's default, then the token form's
    # role and expiry.
    assert selected == ["admin", "member", "viewer", "member", "member", "never"]
    for section, heading in [
        ("project", "Project"),
        ("members", "Members"),
        ("tokens", "Service tokens"),
        ("share-links", "Share links"),
        ("audit-log", "Audit log"),
        ("integrations", "Integrations"),
    ]:
        assert f'<h2 id="{section}-title">{heading}</h2>' in html
    assert "Coming later:" not in html
    assert '<a href="/projects/vision/audit" id="audit-link">open the audit log</a>' in html
    # Two forms per member; the project, add-member, new-token, service-token policy,
    # sharing and sign-out forms.
    assert html.count('name="csrfmiddlewaretoken"') == 2 * 3 + 6


def test_an_unknown_action_is_a_400(admin, portal_as, project):
    response = portal_as(admin).post(PAGE, {"action": "explode"})
    assert response.status_code == 400
    assert "unknown action &#x27;explode&#x27;" in text(response)


# ---- the project's details -------------------------------------------------


def test_the_admin_renames_the_project(admin, portal_as, project):
    client = portal_as(admin)
    response = client.post(
        PAGE, {"action": "project", "name": "Vision 2", "description": "line one\r\nline two"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{PAGE}#project"
    project.refresh_from_db()
    assert (project.name, project.description) == ("Vision 2", "line one\nline two")
    [event] = events("settings.update")
    assert event.metadata == {
        "before": {"name": "Vision", "description": ""},
        "after": {"name": "Vision 2", "description": "line one\nline two"},
    }
    assert '<li class="success">Project details saved.</li>' in text(client.get(PAGE))


def test_a_blank_name_is_refused_inline_and_keeps_what_was_typed(admin, portal_as, project):
    response = portal_as(admin).post(
        PAGE, {"action": "project", "name": "   ", "description": "kept"}
    )
    assert response.status_code == 400
    html = text(response)
    assert (
        '<p class="error" role="alert" id="project-error">'
        "The project was not saved: name must be 1 to 200 characters</p>"
    ) in html
    assert ">kept</textarea>" in html
    project.refresh_from_db()
    assert project.name == "Vision"
    assert events("settings.update") == []


# ---- members ---------------------------------------------------------------


def test_the_admin_adds_a_member_with_a_role(admin, portal_as, project, outsider):
    client = portal_as(admin)
    response = client.post(
        PAGE, {"action": "member_add", "username": " mallory_outsider ", "role": "viewer"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{PAGE}#members"
    assert role_of(project, outsider) == Role.VIEWER
    [event] = events("member.add")
    assert (event.target_label, event.metadata, event.actor_label) == (
        "mallory_outsider",
        {"role": "viewer"},
        "alice_admin",
    )
    assert "mallory_outsider added as viewer." in text(client.get(PAGE))


@pytest.mark.parametrize(
    ("username", "role", "status", "message"),
    [
        ("ghost", "member", 400, "no user named &#x27;ghost&#x27;"),
        ("bob_member", "viewer", 409, "&#x27;bob_member&#x27; is already a member"),
        ("mallory_outsider", "owner", 400, "choose a role: viewer, member, admin"),
    ],
)
def test_a_refused_addition_is_shown_next_to_the_form(
    username, role, status, message, admin, portal_as, project, outsider
):
    response = portal_as(admin).post(
        PAGE, {"action": "member_add", "username": username, "role": role}
    )
    assert response.status_code == status
    html = text(response)
    error = re.search(r'<p class="error" role="alert" id="member-add-error">(.*?)</p>', html)
    assert error and error.group(1).startswith(f"Not added: {message}")
    assert f'value="{username}"' in html
    assert events("member.add") == []
    assert role_of(project, outsider) is None


def test_the_admin_changes_a_role(admin, member, portal_as, project):
    response = portal_as(admin).post(
        PAGE, {"action": "member_role", "username": "bob_member", "role": "admin"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{PAGE}#members"
    assert role_of(project, member) == Role.ADMIN
    [event] = events("member.role_change")
    assert (event.target_label, event.metadata) == (
        "bob_member",
        {"before": "member", "after": "admin"},
    )


def test_the_last_admin_cannot_step_down(admin, portal_as, project):
    response = portal_as(admin).post(
        PAGE, {"action": "member_role", "username": "alice_admin", "role": "member"}
    )
    assert response.status_code == 409
    assert (
        '<p class="error" role="alert" id="member-role-error">The role of alice_admin was not '
        "changed: a project keeps at least one admin; promote another first</p>"
    ) in text(response)
    assert role_of(project, admin) == Role.ADMIN
    assert events("member.role_change") == []


def test_an_admin_who_steps_down_lands_on_the_runs_table(admin, member, portal_as, project):
    Membership.objects.filter(project=project, user=member).update(role=Role.ADMIN)
    client = portal_as(admin)
    response = client.post(
        PAGE, {"action": "member_role", "username": "alice_admin", "role": "viewer"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/projects/vision"
    assert role_of(project, admin) == Role.VIEWER
    assert client.get(PAGE).status_code == 403


def test_the_admin_removes_a_member(admin, viewer, portal_as, project):
    response = portal_as(admin).post(PAGE, {"action": "member_remove", "username": "carol_viewer"})
    assert response.status_code == 302
    assert response["Location"] == f"{PAGE}#members"
    assert role_of(project, viewer) is None
    [event] = events("member.remove")
    assert (event.target_label, event.metadata) == ("carol_viewer", {"role": "viewer"})


def test_the_last_admin_cannot_be_removed(admin, portal_as, project):
    response = portal_as(admin).post(PAGE, {"action": "member_remove", "username": "alice_admin"})
    assert response.status_code == 409
    assert (
        '<p class="error" role="alert" id="member-remove-error">alice_admin was not removed: '
        "a project keeps at least one admin; promote another first</p>"
    ) in text(response)
    assert role_of(project, admin) == Role.ADMIN
    assert events("member.remove") == []


def test_removing_someone_who_is_not_a_member_is_shown_inline(admin, portal_as, project):
    response = portal_as(admin).post(PAGE, {"action": "member_remove", "username": "ghost"})
    assert response.status_code == 404
    assert "ghost was not removed: member not found</p>" in text(response)
    assert response.templates[0].name == "portal/settings.html"


# ---- service tokens --------------------------------------------------------


def test_a_new_service_token_is_shown_once_and_stored_hashed(admin, portal_as, project):
    client = portal_as(admin)
    response = client.post(PAGE, {"action": "token_create", "name": "ci", "role": "viewer"})
    assert response.status_code == 200
    html = text(response)
    secret = re.search(r'<input type="text" id="new-token" readonly value="([^"]+)"', html).group(1)
    assert 'data-copy="new-token"' in html
    token = ApiToken.objects.get(project=project)
    assert (token.name, token.kind, token.role, token.user_id) == (
        "ci",
        TokenKind.SERVICE,
        Role.VIEWER,
        admin.pk,
    )
    assert token.token_hash == token_hash(secret)
    assert token.prefix == secret[:12]
    assert secret not in {token.token_hash, token.prefix, token.name}
    [event] = events("token.create")
    assert event.metadata["role"] == "viewer"
    assert event.target_label == f"ci ({token.prefix}…)"
    again = text(client.get(PAGE))
    assert secret not in again
    row = re.search(rf'<tr data-token="{token.pk}">(.*?)</tr>', again, re.S).group(1)
    assert '<th scope="row">ci</th>' in row
    assert "<td>viewer</td>" in row
    assert f"<code>{token.prefix}…</code>" in row
    assert "<td>never</td>" in row
    assert "<td>active</td>" in row


def test_the_new_token_works_against_the_api_with_its_role(admin, portal_as, api_as, project):
    html = text(
        portal_as(admin).post(PAGE, {"action": "token_create", "name": "ci", "role": "viewer"})
    )
    secret = re.search(r'id="new-token" readonly value="([^"]+)"', html).group(1)
    api = api_as(secret)
    assert api.get("/api/v1/projects/vision").status_code == 200
    assert api.post("/api/v1/projects/vision/runs", {"name": "x"}).status_code == 403


@pytest.mark.parametrize(
    ("name", "role", "message"),
    [
        ("ci", "admin", "choose a role: viewer, member"),
        ("   ", "member", "name must be 1 to 100 characters"),
    ],
)
def test_a_refused_token_is_shown_next_to_the_form(name, role, message, admin, portal_as, project):
    response = portal_as(admin).post(PAGE, {"action": "token_create", "name": name, "role": role})
    assert response.status_code == 400
    assert (
        f'<p class="error" role="alert" id="token-create-error">Not created: {message}</p>'
    ) in text(response)
    assert not ApiToken.objects.filter(project=project).exists()
    assert events("token.create") == []


def test_the_admin_revokes_a_service_token(admin, member, portal_as, project):
    make_token(member, project=project, role=Role.MEMBER, name="old-ci")
    token = ApiToken.objects.get(name="old-ci")
    client = portal_as(admin)
    response = client.post(PAGE, {"action": "token_revoke", "token": str(token.pk)})
    assert response.status_code == 302
    assert response["Location"] == f"{PAGE}#tokens"
    token.refresh_from_db()
    assert token.revoked_at is not None
    [event] = events("token.revoke")
    assert event.target_id == str(token.pk)
    html = text(client.get(PAGE))
    assert "Token “old-ci” revoked." in html
    row = re.search(rf'<tr data-token="{token.pk}">(.*?)</tr>', html, re.S).group(1)
    assert "<td>revoked</td>" in row
    assert "Revoke</button>" not in row


@pytest.mark.parametrize("which", ["other project", "personal", "nonsense"])
def test_only_this_projects_service_tokens_can_be_revoked_here(
    which, admin, portal_as, project, other_project
):
    if which == "other project":
        make_token(admin, project=other_project, role=Role.MEMBER, name="theirs")
        target = str(ApiToken.objects.get(name="theirs").pk)
    elif which == "personal":
        make_token(admin, name="mine")
        target = str(ApiToken.objects.get(name="mine").pk)
    else:
        target = "\uff11\uff12"  # full-width digits: isdigit() but not ASCII
    response = portal_as(admin).post(PAGE, {"action": "token_revoke", "token": target})
    assert response.status_code == 404
    assert (
        '<p class="error" role="alert" id="token-revoke-error">Not revoked: token not found</p>'
    ) in text(response)
    assert not ApiToken.objects.filter(revoked_at__isnull=False).exists()
    assert events("token.revoke") == []


def test_a_script_in_a_token_name_stays_text(admin, portal_as, project):
    xss = "<script>alert(1)</script>"
    response = portal_as(admin).post(
        PAGE, {"action": "token_create", "name": xss, "role": "member"}
    )
    html = text(response)
    assert response.status_code == 200
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# ---- service tokens and their creator ------------------------------------------


def test_a_token_whose_creator_left_shows_as_stopped(admin, member, portal_as, project):
    make_token(member, project=project, role=Role.MEMBER, name="bob-ci")
    make_token(admin, project=project, role=Role.MEMBER, name="alice-ci")
    Membership.objects.filter(project=project, user=member).delete()
    html = text(portal_as(admin).get(PAGE))
    rows = re.findall(r'<tr data-token="\d+">(.*?)</tr>', html, re.S)
    states = {
        re.search(r'<th scope="row">([^<]+)</th>', row).group(1): re.findall(
            r"<td>([^<]*)</td>", row
        )[-1]
        for row in rows
    }
    assert states == {"bob-ci": "stopped: its creator left", "alice-ci": "active"}
    assert "It stops working when that person leaves the project" in html


def test_the_admin_lets_tokens_outlive_their_creator(admin, member, portal_as, project):
    make_token(member, project=project, role=Role.MEMBER, name="bob-ci")
    Membership.objects.filter(project=project, user=member).delete()
    client = portal_as(admin)
    response = client.post(PAGE, {"action": "service_tokens", "outlive_creator": "on"})
    assert response.status_code == 302
    assert response["Location"] == f"{PAGE}#tokens"
    project.refresh_from_db()
    assert project.service_tokens_outlive_creator is True
    [event] = events("settings.service_tokens")
    assert event.metadata["after"] == {"service_tokens_outlive_creator": True}
    html = text(client.get(PAGE))
    assert "Service tokens now keep working after their creator leaves." in html
    assert "stopped: its creator left" not in html
    assert 'id="outlive-creator" name="outlive_creator" checked' in html


def test_unticking_the_box_turns_the_setting_off(admin, portal_as, project):
    project.service_tokens_outlive_creator = True
    project.save(update_fields=["service_tokens_outlive_creator"])
    response = portal_as(admin).post(PAGE, {"action": "service_tokens"})
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.service_tokens_outlive_creator is False
    [event] = events("settings.service_tokens")
    assert event.metadata["after"] == {"service_tokens_outlive_creator": False}


def test_a_member_cannot_change_the_setting(member, portal_as, project):
    response = portal_as(member).post(PAGE, {"action": "service_tokens", "outlive_creator": "on"})
    assert response.status_code == 403
    project.refresh_from_db()
    assert project.service_tokens_outlive_creator is False
