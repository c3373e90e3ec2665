"""Who a principal is and what it sees beyond the role matrix (tests/projects/
test_permissions.py): the project list and project creation per persona, ``/me`` for
personal and service tokens, and service tokens kept inside their project and role."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from apps.projects.models import Membership, Project, Role
from tests.factories import make_token

API = "/api/v1"


# --- listing and creating projects ---------------------------------------------------


def _slugs(client) -> list[str]:
    response = client.get(f"{API}/projects")
    assert response.status_code == 200
    return [p["slug"] for p in response.json()["results"]]


@pytest.fixture
def third_project(db, admin):
    """A project the admin (owner of both service tokens) is also a member of."""
    from tests.factories import ProjectFactory

    third = ProjectFactory(slug="third", name="Third")
    Membership.objects.create(project=third, user=admin, role=Role.ADMIN)
    return third


def test_project_list_shows_the_members_projects_only(as_member, other_project, third_project):
    assert _slugs(as_member) == ["vision"]


def test_project_list_is_empty_for_an_outsider(as_outsider, other_project, third_project):
    assert _slugs(as_outsider) == []


def test_project_list_for_a_service_token_is_its_own_project(
    as_service, other_project, third_project
):
    assert _slugs(as_service) == ["vision"]


def test_project_list_for_another_projects_token_is_that_project(
    as_other_project_token, project, third_project
):
    assert _slugs(as_other_project_token) == ["other"]


def test_project_list_for_staff_is_every_live_project(
    api_as, staff, project, other_project, third_project
):
    Project.objects.filter(pk=third_project.pk).update(deleted_at=timezone.now())
    assert _slugs(api_as(staff)) == ["other", "vision"]


def test_project_list_leaves_out_deleted_projects(as_admin, third_project):
    Project.objects.filter(pk=third_project.pk).update(deleted_at=timezone.now())
    assert _slugs(as_admin) == ["vision"]


def test_a_service_token_cannot_create_projects(as_service):
    response = as_service.post(f"{API}/projects", {"slug": "ci-made", "name": "CI"})
    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": "forbidden",
            "message": "only a user (personal token) can create projects",
            "field": None,
        }
    }
    assert not Project.objects.filter(slug="ci-made").exists()


def test_a_user_creates_a_project_and_becomes_its_admin(as_outsider, outsider):
    response = as_outsider.post(f"{API}/projects", {"slug": "mine", "name": "Mine"})
    assert response.status_code == 201
    assert response.json()["role"] == "admin"
    membership = Membership.objects.get(project__slug="mine")
    assert (membership.user_id, membership.role) == (outsider.id, Role.ADMIN)


# --- /me -------------------------------------------------------------------------------


def test_me_with_a_personal_token(api_as, member):
    secret = make_token(member, name="laptop")
    response = api_as(secret).get(f"{API}/me")
    assert response.status_code == 200
    assert response.json() == {
        "user": {"username": "bob_member", "email": "bob_member@example.com", "is_staff": False},
        "token": {
            "name": "laptop",
            "kind": "personal",
            "prefix": secret[:12],
            "project": None,
            "role": None,
            "expires_at": None,
        },
    }


def test_me_with_a_service_token_names_the_token_not_its_creator(api_as, admin, project):
    expires = datetime(2099, 1, 2, 3, 4, 5, tzinfo=UTC)
    secret = make_token(admin, project=project, role=Role.VIEWER, name="ci", expires_at=expires)
    response = api_as(secret).get(f"{API}/me")
    assert response.status_code == 200
    assert response.json() == {
        "user": None,
        "token": {
            "name": "ci",
            "kind": "service",
            "prefix": secret[:12],
            "project": "vision",
            "role": "viewer",
            "expires_at": "2099-01-02T03:04:05Z",
        },
    }


# --- service tokens stay inside their project and role ----------------------------------


@pytest.fixture
def staff_viewer_token(api_as, staff, project):
    """A viewer service token of ``project`` created for a staff user."""
    return api_as(make_token(staff, project=project, role=Role.VIEWER, name="staff-ci"))


def test_a_staff_users_service_token_does_not_act_as_staff_elsewhere(
    staff_viewer_token, other_project
):
    response = staff_viewer_token.get(f"{API}/projects/other")
    assert response.status_code == 404
    assert response.json() == staff_viewer_token.get(f"{API}/projects/nope").json()


def test_a_staff_users_service_token_keeps_its_viewer_role(staff_viewer_token, run_id):
    response = staff_viewer_token.patch(f"{API}/runs/{run_id}", {"notes": "x"})
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "this needs the member role in project 'vision'"


def test_a_staff_users_service_token_lists_only_its_project(staff_viewer_token, other_project):
    assert _slugs(staff_viewer_token) == ["vision"]


def test_a_viewer_service_token_reads_but_cannot_create_runs(api_as, admin, project, run_id):
    client = api_as(make_token(admin, project=project, role=Role.VIEWER, name="dash"))
    assert client.get(f"{API}/runs/{run_id}").status_code == 200
    assert client.post(f"{API}/projects/vision/runs", {"name": "x"}).status_code == 403
