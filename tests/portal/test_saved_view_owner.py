"""Who may delete a saved view: its creator as themselves, or a project admin; a
service token never deletes its creator's views (the portal takes no tokens, so this
holds the service to the rule every "own" check follows)."""

from __future__ import annotations

import pytest

from apps.accounts.models import ApiToken
from apps.accounts.principal import Principal
from apps.accounts.tokens import token_hash
from apps.core.errors import Forbidden
from apps.portal.models import ColumnChoice, SavedView
from apps.portal.services import column_choice_save, saved_view_delete
from apps.projects.models import Role
from tests.factories import make_token


def _token_of(user, project, role: Role) -> Principal:
    secret = make_token(user, project=project, role=role, name=f"{role.label}-ci")
    return Principal(user=user, token=ApiToken.objects.get(token_hash=token_hash(secret)))


@pytest.fixture
def members_view(member, project) -> SavedView:
    return SavedView.objects.create(project=project, name="good ones", created_by=member)


def test_the_creator_deletes_their_view(member, members_view):
    saved_view_delete(principal=Principal(user=member), view=members_view)
    assert not SavedView.objects.exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_a_token_made_by_the_views_creator_cannot_delete_it(member, project, members_view, role):
    with pytest.raises(Forbidden) as raised:
        saved_view_delete(principal=_token_of(member, project, role), view=members_view)
    assert raised.value.message == "this needs the admin role in project 'vision'"
    assert SavedView.objects.count() == 1


def test_a_project_admin_deletes_anyones_view(admin, members_view):
    saved_view_delete(principal=Principal(user=admin), view=members_view)
    assert not SavedView.objects.exists()


def test_a_service_token_remembers_no_columns_for_its_creator(admin, project):
    column_choice_save(
        principal=_token_of(admin, project, Role.VIEWER), project=project, columns="params.lr"
    )
    assert not ColumnChoice.objects.exists()
