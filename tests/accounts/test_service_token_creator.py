"""A service token whose creator leaves its project: by default it stops authenticating
(401, like a revoked token, with a message that says why) until the creator has a
role there again; a project whose admins turned on ``service_tokens_outlive_creator``
keeps its tokens working."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.accounts.principal import Principal
from apps.audit.models import AuditEvent
from apps.projects.members import member_remove
from apps.projects.models import Membership, Project, Role
from tests.factories import UserFactory, make_token

ME = "/api/v1/me"
PROJECT = "/api/v1/projects/vision"
LEFT = (
    "this service token's creator no longer has a role in project 'vision', so it stopped "
    "working; a project admin can create a new token, or let service tokens outlive "
    "their creator in the project's settings"
)


def _unauthenticated(message: str) -> dict:
    return {"error": {"code": "unauthenticated", "message": message, "field": None}}


def _outlive(project: Project) -> None:
    Project.objects.filter(pk=project.pk).update(service_tokens_outlive_creator=True)


@pytest.fixture
def member_token(member, project) -> str:
    """A member service token created by (and for) the project's member."""
    return make_token(member, project=project, role=Role.MEMBER, name="ci")


def test_the_token_works_while_its_creator_is_in_the_project(api_as, member_token):
    assert api_as(member_token).get(ME).status_code == 200


def test_removing_the_creator_stops_the_token(api_as, admin, member_token, project):
    member_remove(principal=Principal(user=admin), project=project, username="bob_member")
    response = api_as(member_token).get(ME)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == _unauthenticated(LEFT)


def test_the_token_works_again_when_its_creator_returns(api_as, member, member_token, project):
    Membership.objects.filter(project=project, user=member).delete()
    assert api_as(member_token).get(ME).status_code == 401
    Membership.objects.create(project=project, user=member, role=Role.VIEWER)
    assert api_as(member_token).get(ME).status_code == 200


def test_deactivating_the_creator_stops_the_token(api_as, member, member_token):
    member.is_active = False
    member.save(update_fields=["is_active"])
    assert api_as(member_token).get(ME).json() == _unauthenticated(LEFT)


def test_a_staff_creator_outside_the_project_keeps_the_token_working(api_as, staff, project):
    secret = make_token(staff, project=project, role=Role.VIEWER, name="staff-ci")
    assert api_as(secret).get(ME).status_code == 200


def test_removing_staff_status_stops_a_token_staff_was_the_only_reason_for(api_as, staff, project):
    secret = make_token(staff, project=project, role=Role.VIEWER, name="staff-ci")
    staff.is_staff = False
    staff.save(update_fields=["is_staff"])
    assert api_as(secret).get(ME).json() == _unauthenticated(LEFT)


def test_a_refused_token_is_not_marked_used(api_as, member, member_token, project):
    Membership.objects.filter(project=project, user=member).delete()
    api_as(member_token).get(ME)
    assert ApiToken.objects.get(name="ci").last_used_at is None


# --- the project lets its tokens outlive their creator ------------------------------------


def test_with_the_setting_a_removed_creators_token_keeps_working(
    api_as, member, member_token, project
):
    _outlive(project)
    Membership.objects.filter(project=project, user=member).delete()
    response = api_as(member_token).get(ME)
    assert response.status_code == 200
    assert response.json()["token"]["name"] == "ci"


def test_with_the_setting_a_deactivated_creators_token_keeps_working(
    api_as, member, member_token, project
):
    _outlive(project)
    member.is_active = False
    member.save(update_fields=["is_active"])
    assert api_as(member_token).post(f"{PROJECT}/runs", {"name": "ci"}).status_code == 201


def test_the_setting_revives_a_stopped_token_and_turning_it_off_stops_it_again(
    api_as, as_admin, member, member_token, project
):
    Membership.objects.filter(project=project, user=member).delete()
    as_admin.patch(PROJECT, {"service_tokens_outlive_creator": True})
    assert api_as(member_token).get(ME).status_code == 200
    as_admin.patch(PROJECT, {"service_tokens_outlive_creator": False})
    assert api_as(member_token).get(ME).status_code == 401


def test_a_personal_token_of_a_deactivated_user_stays_refused(api_as, member, project):
    _outlive(project)
    secret = make_token(member, name="laptop")
    member.is_active = False
    member.save(update_fields=["is_active"])
    assert api_as(secret).get(ME).json() == _unauthenticated("invalid token")


# --- cost: the rule adds no query --------------------------------------------------------


def _queries(api, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert api.get(path).status_code == 200
    return len(captured.captured_queries)


def test_checking_the_creator_costs_no_extra_query(api_as, member, member_token):
    personal = make_token(member, name="laptop")
    # Both were used a moment ago, so neither writes last_used_at now.
    ApiToken.objects.update(last_used_at=timezone.now())
    assert _queries(api_as(member_token), ME) == _queries(api_as(personal), ME)


# --- the setting: PATCH /projects/{slug}, audited ----------------------------------------


def test_a_new_project_stops_tokens_whose_creator_left(as_admin, project):
    assert as_admin.get(PROJECT).json()["service_tokens_outlive_creator"] is False


def test_an_admin_turns_the_setting_on_and_it_is_audited_apart(as_admin, project):
    response = as_admin.patch(PROJECT, {"service_tokens_outlive_creator": True})
    assert response.status_code == 200
    assert response.json()["service_tokens_outlive_creator"] is True
    project.refresh_from_db()
    assert project.service_tokens_outlive_creator is True
    events = list(AuditEvent.objects.filter(project_id=project.pk).values("action", "metadata"))
    assert events == [
        {
            "action": "settings.service_tokens",
            "metadata": {
                "before": {"service_tokens_outlive_creator": False},
                "after": {"service_tokens_outlive_creator": True},
            },
        }
    ]


def test_setting_it_to_what_it_is_records_nothing(as_admin, project):
    assert as_admin.patch(PROJECT, {"service_tokens_outlive_creator": False}).status_code == 200
    assert not AuditEvent.objects.filter(project_id=project.pk).exists()


def test_a_rename_with_the_setting_records_both_events(as_admin, project):
    as_admin.patch(PROJECT, {"name": "Vision 2", "service_tokens_outlive_creator": True})
    actions = set(AuditEvent.objects.filter(project_id=project.pk).values_list("action", flat=True))
    assert actions == {"settings.update", "settings.service_tokens"}


def test_the_setting_takes_true_or_false_only(as_admin, project):
    response = as_admin.patch(PROJECT, {"service_tokens_outlive_creator": "sometimes"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "service_tokens_outlive_creator"
    project.refresh_from_db()
    assert project.service_tokens_outlive_creator is False


@pytest.mark.parametrize("persona", ["as_member", "as_service"])
def test_only_an_admin_changes_the_setting(request, persona, project):
    response = request.getfixturevalue(persona).patch(
        PROJECT, {"service_tokens_outlive_creator": True}
    )
    assert response.status_code == 403
    project.refresh_from_db()
    assert project.service_tokens_outlive_creator is False


def test_a_user_who_joins_later_does_not_revive_someone_elses_token(
    api_as, member, member_token, project
):
    Membership.objects.filter(project=project, user=member).delete()
    newcomer = UserFactory(username="dave_new")
    Membership.objects.create(project=project, user=newcomer, role=Role.ADMIN)
    assert api_as(member_token).get(ME).status_code == 401
