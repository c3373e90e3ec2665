"""Managing a project's members (admins only; the denials are in test_permissions)."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.projects.models import Membership, Role
from tests.factories import UserFactory

MEMBERS = "/api/v1/projects/vision/members"


@pytest.fixture
def newcomer(db):
    return UserFactory(username="dave_new")


def _roles(project) -> dict[str, int]:
    return dict(Membership.objects.filter(project=project).values_list("user__username", "role"))


def _error(code: str, message: str, field: str | None) -> dict:
    return {"error": {"code": code, "message": message, "field": field}}


def test_list_members(as_viewer):
    response = as_viewer.get(MEMBERS)
    assert response.status_code == 200
    assert [(m["username"], m["role"]) for m in response.json()["results"]] == [
        ("alice_admin", "admin"),
        ("bob_member", "member"),
        ("carol_viewer", "viewer"),
    ]


def test_add_member(as_admin, project, newcomer):
    response = as_admin.post(MEMBERS, {"username": "dave_new", "role": "member"})
    assert response.status_code == 201
    body = response.json()
    assert (body["username"], body["role"]) == ("dave_new", "member")
    assert _roles(project)["dave_new"] == Role.MEMBER


def test_add_member_is_audited(as_admin, project, newcomer):
    as_admin.post(MEMBERS, {"username": "dave_new", "role": "viewer"})
    event = AuditEvent.objects.get(action="member.add")
    assert (event.project_id, event.target_type, event.target_id, event.target_label) == (
        project.pk,
        "user",
        str(newcomer.pk),
        "dave_new",
    )
    assert event.metadata == {"role": "viewer"}


def test_roles_are_accepted_in_any_case(as_admin, project, newcomer):
    response = as_admin.post(MEMBERS, {"username": "dave_new", "role": "Member"})
    assert response.status_code == 201
    assert response.json()["role"] == "member"
    assert _roles(project)["dave_new"] == Role.MEMBER


def test_role_change_accepts_any_case(as_admin, project):
    response = as_admin.patch(f"{MEMBERS}/carol_viewer", {"role": "ADMIN"})
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert _roles(project)["carol_viewer"] == Role.ADMIN


def test_adding_an_existing_member_is_a_conflict(as_admin, project):
    response = as_admin.post(MEMBERS, {"username": "carol_viewer", "role": "admin"})
    assert response.status_code == 409
    assert response.json() == _error(
        "conflict", "'carol_viewer' is already a member; change the role with PATCH", "username"
    )
    assert _roles(project)["carol_viewer"] == Role.VIEWER
    assert not AuditEvent.objects.filter(action="member.add").exists()


def test_adding_an_unknown_user_is_invalid(as_admin, project):
    response = as_admin.post(MEMBERS, {"username": "ghost", "role": "member"})
    assert response.status_code == 400
    assert response.json() == _error("invalid", "no user named 'ghost'", "username")


def test_adding_a_deactivated_user_is_invalid(as_admin, project):
    UserFactory(username="gone", is_active=False)
    response = as_admin.post(MEMBERS, {"username": "gone", "role": "member"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "username"
    assert "gone" not in _roles(project)


@pytest.mark.parametrize("role", ["owner", "", None, 3])
def test_adding_with_a_bad_role_is_invalid(as_admin, project, newcomer, role):
    response = as_admin.post(MEMBERS, {"username": "dave_new", "role": role})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid", "role")
    assert "dave_new" not in _roles(project)


def test_role_change(as_admin, project):
    response = as_admin.patch(f"{MEMBERS}/carol_viewer", {"role": "member"})
    assert response.status_code == 200
    body = response.json()
    assert (body["username"], body["role"]) == ("carol_viewer", "member")
    assert _roles(project)["carol_viewer"] == Role.MEMBER


def test_role_change_is_audited_once_with_before_and_after(as_admin, project, viewer):
    as_admin.patch(f"{MEMBERS}/carol_viewer", {"role": "member"})
    events = list(AuditEvent.objects.filter(action="member.role_change"))
    assert len(events) == 1
    event = events[0]
    assert (event.project_id, event.target_id, event.target_label) == (
        project.pk,
        str(viewer.pk),
        "carol_viewer",
    )
    assert event.metadata == {"before": "viewer", "after": "member"}


def test_setting_the_same_role_changes_nothing_and_is_not_audited(as_admin, project):
    response = as_admin.patch(f"{MEMBERS}/carol_viewer", {"role": "viewer"})
    assert response.status_code == 200
    assert response.json()["role"] == "viewer"
    assert not AuditEvent.objects.filter(action="member.role_change").exists()


def test_role_change_with_a_bad_role_is_invalid(as_admin, project):
    response = as_admin.patch(f"{MEMBERS}/carol_viewer", {"role": "superuser"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid", "role")
    assert _roles(project)["carol_viewer"] == Role.VIEWER


def test_role_change_of_a_non_member_is_not_found(as_admin, project, outsider):
    response = as_admin.patch(f"{MEMBERS}/mallory_outsider", {"role": "member"})
    assert response.status_code == 404
    assert response.json() == _error("not_found", "member not found", None)


def test_remove_member(as_admin, project, viewer):
    response = as_admin.delete(f"{MEMBERS}/carol_viewer")
    assert response.status_code == 204
    assert "carol_viewer" not in _roles(project)
    events = list(AuditEvent.objects.filter(action="member.remove"))
    assert len(events) == 1
    assert (events[0].target_id, events[0].target_label, events[0].metadata) == (
        str(viewer.pk),
        "carol_viewer",
        {"role": "viewer"},
    )


def test_removing_a_non_member_is_not_found(as_admin, project, outsider):
    response = as_admin.delete(f"{MEMBERS}/mallory_outsider")
    assert response.status_code == 404
    assert response.json() == _error("not_found", "member not found", None)


def test_a_removed_member_loses_access(as_admin, api_as, viewer, project):
    as_viewer = api_as(viewer)
    as_admin.delete(f"{MEMBERS}/carol_viewer")
    assert as_viewer.get("/api/v1/projects/vision").status_code == 404


LAST_ADMIN = "a project keeps at least one admin; promote another first"


def test_the_last_admin_cannot_be_demoted(as_admin, project):
    response = as_admin.patch(f"{MEMBERS}/alice_admin", {"role": "member"})
    assert response.status_code == 409
    assert response.json() == _error("conflict", LAST_ADMIN, "role")
    assert _roles(project)["alice_admin"] == Role.ADMIN
    assert not AuditEvent.objects.filter(action="member.role_change").exists()


def test_the_last_admin_cannot_be_removed(as_admin, project):
    response = as_admin.delete(f"{MEMBERS}/alice_admin")
    assert response.status_code == 409
    assert response.json() == _error("conflict", LAST_ADMIN, "username")
    assert _roles(project)["alice_admin"] == Role.ADMIN
    assert not AuditEvent.objects.filter(action="member.remove").exists()


def test_an_admin_can_step_down_once_there_is_another(as_admin, project):
    as_admin.patch(f"{MEMBERS}/bob_member", {"role": "admin"})
    response = as_admin.patch(f"{MEMBERS}/alice_admin", {"role": "viewer"})
    assert response.status_code == 200
    assert _roles(project) == {
        "alice_admin": Role.VIEWER,
        "bob_member": Role.ADMIN,
        "carol_viewer": Role.VIEWER,
    }


def test_an_admin_can_be_removed_once_there_is_another(as_admin, project):
    as_admin.patch(f"{MEMBERS}/bob_member", {"role": "admin"})
    response = as_admin.delete(f"{MEMBERS}/alice_admin")
    assert response.status_code == 204
    assert set(_roles(project)) == {"bob_member", "carol_viewer"}
