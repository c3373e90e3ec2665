"""What a service token writes is the token's, not its creator's: comments, share
links and saved comparisons a token makes name the token, only that token edits or
revokes them (or a project admin, where admins may), and the person who created the
token does not own them as themselves. The role matrix (tests/projects/
test_permissions.py) covers the other direction: a token never owns its creator's."""

from __future__ import annotations

import pytest

from apps.accounts.models import ApiToken
from apps.accounts.principal import Principal
from apps.accounts.tokens import token_hash
from apps.collab import services
from apps.collab.models import Comment, SavedComparison, ShareLink
from apps.core.errors import Forbidden
from apps.events.models import DomainEvent
from apps.projects.models import Membership, Role
from apps.runs.models import Run
from tests.factories import make_token

API = "/api/v1"


def _refused(message: str) -> dict:
    return {"error": {"code": "forbidden", "message": message, "field": None}}


@pytest.fixture
def ci_secret(admin, project) -> str:
    """A member service token of the project named ``ci``, created by the admin."""
    return make_token(admin, project=project, role=Role.MEMBER, name="ci")


@pytest.fixture
def as_ci(api_as, ci_secret):
    return api_as(ci_secret)


@pytest.fixture
def ci_token(ci_secret) -> ApiToken:
    return ApiToken.objects.get(token_hash=token_hash(ci_secret))


@pytest.fixture
def ci_comment(as_ci, run_id) -> dict:
    response = as_ci.post(f"{API}/runs/{run_id}/comments", {"body": "nightly: **green**"})
    assert response.status_code == 201
    return response.json()


@pytest.fixture
def ci_link(as_ci, run_id) -> dict:
    response = as_ci.post(f"{API}/runs/{run_id}/share-links", {})
    assert response.status_code == 201
    return response.json()


# --- comments ---------------------------------------------------------------------------


def test_a_tokens_comment_is_the_tokens_and_says_so(ci_comment, ci_token):
    row = Comment.objects.get(pk=ci_comment["id"])
    assert (row.author_id, row.created_by_token_id, row.author_label) == (
        None,
        ci_token.pk,
        "ci (service token)",
    )
    assert ci_comment["author"] == "ci (service token)"


def test_a_tokens_mention_event_names_the_token(as_ci, run_id):
    response = as_ci.post(f"{API}/runs/{run_id}/comments", {"body": "nightly: @bob_member"})
    assert response.status_code == 201
    event = DomainEvent.objects.get(type="comment.mention")
    assert event.payload["author"] == "ci (service token)"


def test_a_token_edits_its_own_comment(as_ci, ci_comment):
    response = as_ci.patch(f"{API}/comments/{ci_comment['id']}", {"body": "nightly: red"})
    assert response.status_code == 200
    assert Comment.objects.get(pk=ci_comment["id"]).body == "nightly: red"


def test_a_token_deletes_its_own_comment(as_ci, ci_comment):
    assert as_ci.delete(f"{API}/comments/{ci_comment['id']}").status_code == 204
    assert Comment.objects.get(pk=ci_comment["id"]).deleted_at is not None


def test_the_tokens_creator_cannot_edit_the_tokens_comment(as_admin, ci_comment):
    response = as_admin.patch(f"{API}/comments/{ci_comment['id']}", {"body": "mine now"})
    assert response.status_code == 403
    assert response.json() == _refused("only its author can edit a comment")
    assert Comment.objects.get(pk=ci_comment["id"]).body == "nightly: **green**"


def test_the_tokens_creator_deletes_its_comment_as_a_project_admin(as_admin, ci_comment):
    assert as_admin.delete(f"{API}/comments/{ci_comment['id']}").status_code == 204
    assert Comment.objects.get(pk=ci_comment["id"]).deleted_at is not None


def test_the_tokens_creator_who_is_no_admin_cannot_delete_its_comment(
    api_as, member, project, run_id
):
    # The member's token writes; the member is no admin, so not even they may delete it.
    token = api_as(make_token(member, project=project, role=Role.VIEWER, name="dash"))
    comment = token.post(f"{API}/runs/{run_id}/comments", {"body": "hello"}).json()
    response = api_as(member).delete(f"{API}/comments/{comment['id']}")
    assert response.status_code == 403
    assert response.json() == _refused("only its author or a project admin can delete a comment")
    row = Comment.objects.get(pk=comment["id"])
    assert (row.deleted_at, row.body) == (None, "hello")


def test_another_token_of_the_same_creator_cannot_edit_or_delete_it(as_viewer_service, ci_comment):
    edit = as_viewer_service.patch(f"{API}/comments/{ci_comment['id']}", {"body": "x"})
    delete = as_viewer_service.delete(f"{API}/comments/{ci_comment['id']}")
    assert (edit.status_code, delete.status_code) == (403, 403)
    assert Comment.objects.get(pk=ci_comment["id"]).deleted_at is None


def test_a_revoked_tokens_comment_keeps_its_label_and_stays_the_tokens(
    as_admin, ci_comment, ci_token
):
    ci_token.delete()
    row = Comment.objects.get(pk=ci_comment["id"])
    assert (row.author_id, row.created_by_token_id, row.author_label) == (
        None,
        None,
        "ci (service token)",
    )
    # Nobody owns it now; the admin may still delete it.
    response = as_admin.patch(f"{API}/comments/{ci_comment['id']}", {"body": "x"})
    assert response.status_code == 403
    assert as_admin.delete(f"{API}/comments/{ci_comment['id']}").status_code == 204


# --- share links ------------------------------------------------------------------------


def test_a_tokens_share_link_is_the_tokens_and_says_so(as_admin, run_id, ci_link, ci_token):
    row = ShareLink.objects.get(pk=ci_link["id"])
    assert (row.created_by_id, row.created_by_token_id, row.created_by_label) == (
        None,
        ci_token.pk,
        "ci (service token)",
    )
    listed = as_admin.get(f"{API}/runs/{run_id}/share-links").json()["results"]
    assert [link["created_by"] for link in listed] == ["ci (service token)"]


def test_a_token_revokes_its_own_share_link(as_ci, ci_link):
    assert as_ci.delete(f"{API}/share-links/{ci_link['id']}").status_code == 204
    assert ShareLink.objects.get(pk=ci_link["id"]).revoked_at is not None


def test_another_token_of_the_same_creator_cannot_revoke_it(api_as, admin, project, ci_link):
    other = api_as(make_token(admin, project=project, role=Role.MEMBER, name="nightly"))
    response = other.delete(f"{API}/share-links/{ci_link['id']}")
    assert response.status_code == 403
    assert response.json() == _refused(
        "only its creator or a project admin can revoke a share link"
    )
    assert ShareLink.objects.get(pk=ci_link["id"]).revoked_at is None


def test_a_member_who_made_the_token_cannot_revoke_its_link(api_as, member, project, run_id):
    token = api_as(make_token(member, project=project, role=Role.MEMBER, name="bench"))
    link = token.post(f"{API}/runs/{run_id}/share-links", {}).json()
    response = api_as(member).delete(f"{API}/share-links/{link['id']}")
    assert response.status_code == 403
    assert ShareLink.objects.get(pk=link["id"]).revoked_at is None


def test_a_project_admin_revokes_a_tokens_share_link(as_admin, ci_link):
    assert as_admin.delete(f"{API}/share-links/{ci_link['id']}").status_code == 204
    assert ShareLink.objects.get(pk=ci_link["id"]).revoked_at is not None


# --- saved comparisons (written through the services: the portal saves them) ------------


def test_a_tokens_saved_comparison_is_the_tokens(project, admin, ci_token):
    runs = [Run.objects.create(project=project, name=f"r{i}") for i in range(2)]
    saved = services.comparison_create(
        principal=Principal(user=admin, token=ci_token),
        project=project,
        name="nightly",
        run_ids=[run.public_id for run in runs],
    )
    row = SavedComparison.objects.get(pk=saved.pk)
    assert (row.created_by_id, row.created_by_token_id, row.created_by_label) == (
        None,
        ci_token.pk,
        "ci (service token)",
    )


# --- the helper every "own" rule goes through --------------------------------------------


def test_owns_keeps_people_and_their_tokens_apart(admin, member, ci_token):
    person = Principal(user=admin)
    token = Principal(user=admin, token=ci_token)
    assert (person.owns(user_id=admin.pk), person.owns(token_id=ci_token.pk)) == (True, False)
    assert (token.owns(user_id=admin.pk), token.owns(token_id=ci_token.pk)) == (False, True)
    assert Principal(user=member).owns(user_id=admin.pk) is False
    assert (person.owns(), token.owns(), Principal.system().owns()) == (False, False, False)


def test_the_system_writes_nothing_as_an_author(project, run_id):
    run = Run.objects.get(public_id=run_id)
    with pytest.raises(Forbidden):
        services.comment_create(principal=Principal.system(), target=run, body="x")


def test_a_token_whose_creator_left_writes_nothing(api_as, admin, project, run_id, ci_secret):
    Membership.objects.filter(project=project, user=admin).delete()
    response = api_as(ci_secret).post(f"{API}/runs/{run_id}/comments", {"body": "x"})
    assert response.status_code == 401
    assert not Comment.objects.exists()
