"""API tokens: how they are made, stored, checked and revoked."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.accounts.principal import Principal
from apps.accounts.tokens import token_hash
from apps.audit.models import AuditEvent
from apps.core.errors import Forbidden, Invalid, NotFound
from apps.projects.models import Role
from apps.projects.tokens import token_create, token_revoke
from tests.factories import make_token

ME = "/api/v1/me"
TOKEN_RE = re.compile(r"^krk_[A-Za-z0-9_-]{43,}$")


def _principal(user, secret: str | None = None) -> Principal:
    token = ApiToken.objects.get(token_hash=token_hash(secret)) if secret else None
    return Principal(user=user, token=token)


def _unauthenticated(message: str) -> dict:
    return {"error": {"code": "unauthenticated", "message": message, "field": None}}


# --- making and storing ---------------------------------------------------------------


def test_a_token_is_krk_and_32_random_bytes_url_safe(admin):
    created = token_create(principal=_principal(admin), owner=admin, name="laptop")
    assert TOKEN_RE.match(created.secret)
    random_part = created.secret.removeprefix("krk_")
    assert len(base64.urlsafe_b64decode(random_part + "=" * (-len(random_part) % 4))) == 32


def test_two_tokens_differ(admin):
    first = token_create(principal=_principal(admin), owner=admin, name="a").secret
    second = token_create(principal=_principal(admin), owner=admin, name="b").secret
    assert first != second


def test_only_the_sha256_of_a_token_is_stored(admin):
    created = token_create(principal=_principal(admin), owner=admin, name="laptop")
    row = ApiToken.objects.get(pk=created.token.pk)
    assert row.token_hash == hashlib.sha256(created.secret.encode()).hexdigest()
    assert row.prefix == created.secret[:12]


def test_no_stored_row_contains_the_secret(admin, project):
    created = token_create(
        principal=_principal(admin), owner=admin, name="ci", project=project, role=Role.MEMBER
    )
    # Everything after the 12 characters kept as the display prefix.
    hidden = created.secret[12:]
    stored = [
        str(value)
        for model in (ApiToken, AuditEvent)
        for row in model.objects.values()
        for value in row.values()
    ]
    assert AuditEvent.objects.filter(action="token.create").count() == 1
    assert [value for value in stored if hidden in value] == []


def test_a_new_token_authenticates(api_as, admin):
    created = token_create(principal=_principal(admin), owner=admin, name="laptop")
    response = api_as(created.secret).get(ME)
    assert response.status_code == 200
    assert response.json()["user"]["username"] == "alice_admin"


# --- checking ---------------------------------------------------------------------------


def test_an_expired_token_is_401(api_as, admin):
    secret = make_token(admin, expires_at=timezone.now() - timedelta(seconds=1))
    response = api_as(secret).get(ME)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == _unauthenticated("token has expired")


def test_a_token_before_its_expiry_works(api_as, admin):
    secret = make_token(admin, expires_at=timezone.now() + timedelta(minutes=5))
    assert api_as(secret).get(ME).status_code == 200


def test_a_revoked_token_is_401(api_as, admin):
    secret = make_token(admin)
    ApiToken.objects.filter(token_hash=token_hash(secret)).update(revoked_at=timezone.now())
    response = api_as(secret).get(ME)
    assert response.status_code == 401
    assert response.json() == _unauthenticated("token has been revoked")


def test_a_deactivated_users_token_is_401(api_as, admin):
    secret = make_token(admin)
    admin.is_active = False
    admin.save(update_fields=["is_active"])
    response = api_as(secret).get(ME)
    assert response.status_code == 401
    assert response.json() == _unauthenticated("invalid token")


def test_a_deleted_projects_service_token_is_401(api_as, admin, project):
    secret = make_token(admin, project=project, role=Role.MEMBER, name="ci")
    project.deleted_at = timezone.now()
    project.save(update_fields=["deleted_at"])
    response = api_as(secret).get(ME)
    assert response.status_code == 401
    assert response.json() == _unauthenticated("invalid token")


def test_an_unknown_token_of_the_right_shape_is_401(api_as, admin):
    secret = make_token(admin)
    forged = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    response = api_as(forged).get(ME)
    assert response.status_code == 401
    assert response.json() == _unauthenticated("invalid token")


def test_last_used_at_is_set_on_use(api_as, admin):
    secret = make_token(admin)
    token = ApiToken.objects.get(token_hash=token_hash(secret))
    assert token.last_used_at is None
    before = timezone.now()
    assert api_as(secret).get(ME).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert before <= token.last_used_at <= timezone.now()


def test_a_refused_token_is_not_marked_used(api_as, admin):
    secret = make_token(admin, expires_at=timezone.now() - timedelta(seconds=1))
    api_as(secret).get(ME)
    assert ApiToken.objects.get(token_hash=token_hash(secret)).last_used_at is None


# --- creating ---------------------------------------------------------------------------


def test_a_service_token_is_member_by_default(admin, project):
    created = token_create(principal=_principal(admin), owner=admin, name="ci", project=project)
    assert (created.token.kind, created.token.project_id, created.token.role) == (
        "service",
        project.pk,
        Role.MEMBER,
    )


def test_a_service_token_role_cannot_exceed_member(admin, project):
    with pytest.raises(Invalid) as raised:
        token_create(
            principal=_principal(admin), owner=admin, name="ci", project=project, role=Role.ADMIN
        )
    assert (raised.value.field, raised.value.message) == (
        "role",
        "a service token's role is at most member",
    )
    assert not ApiToken.objects.filter(kind="service").exists()


def test_a_personal_token_takes_no_role(admin):
    with pytest.raises(Invalid) as raised:
        token_create(principal=_principal(admin), owner=admin, name="x", role=Role.VIEWER)
    assert raised.value.field == "role"


def test_a_member_cannot_create_a_service_token(member, project):
    with pytest.raises(Forbidden):
        token_create(principal=_principal(member), owner=member, name="ci", project=project)
    assert not ApiToken.objects.exists()


def test_an_outsider_cannot_learn_the_project_exists(outsider, project):
    with pytest.raises(NotFound) as raised:
        token_create(principal=_principal(outsider), owner=outsider, name="ci", project=project)
    assert raised.value.message == "project not found"
    assert not ApiToken.objects.exists()


def test_a_user_cannot_create_a_personal_token_for_someone_else(member, admin):
    with pytest.raises(NotFound):
        token_create(principal=_principal(member), owner=admin, name="stolen")
    assert not ApiToken.objects.exists()


def test_a_service_token_cannot_create_a_personal_token(admin, project):
    secret = make_token(admin, project=project, role=Role.MEMBER, name="ci")
    with pytest.raises(Forbidden):
        token_create(principal=_principal(admin, secret), owner=admin, name="escalate")
    assert ApiToken.objects.count() == 1


def test_a_service_token_cannot_create_a_service_token(admin, project):
    secret = make_token(admin, project=project, role=Role.MEMBER, name="ci")
    with pytest.raises(Forbidden):
        token_create(
            principal=_principal(admin, secret),
            owner=admin,
            name="escalate",
            project=project,
            role=Role.VIEWER,
        )
    assert ApiToken.objects.count() == 1


def test_a_past_expiry_is_invalid(admin):
    with pytest.raises(Invalid) as raised:
        token_create(
            principal=_principal(admin),
            owner=admin,
            name="x",
            expires_at=timezone.now() - timedelta(days=1),
        )
    assert raised.value.field == "expires_at"


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_token_name_is_1_to_100_characters(admin, name):
    with pytest.raises(Invalid) as raised:
        token_create(principal=_principal(admin), owner=admin, name=name)
    assert raised.value.field == "name"


# --- revoking ---------------------------------------------------------------------------


def test_the_owner_revokes_a_token_and_it_is_audited_once(api_as, admin):
    created = token_create(principal=_principal(admin), owner=admin, name="laptop")
    token_revoke(principal=_principal(admin), token=created.token)
    events = list(AuditEvent.objects.filter(action="token.revoke"))
    assert len(events) == 1
    assert (events[0].target_type, events[0].target_id) == ("token", str(created.token.pk))
    assert api_as(created.secret).get(ME).json() == _unauthenticated("token has been revoked")


def test_revoking_twice_is_a_no_op(admin):
    created = token_create(principal=_principal(admin), owner=admin, name="laptop")
    token_revoke(principal=_principal(admin), token=created.token)
    revoked_at = ApiToken.objects.get(pk=created.token.pk).revoked_at
    token = ApiToken.objects.get(pk=created.token.pk)
    token_revoke(principal=_principal(admin), token=token)
    assert ApiToken.objects.get(pk=created.token.pk).revoked_at == revoked_at
    assert AuditEvent.objects.filter(action="token.revoke").count() == 1


def test_a_project_admin_revokes_a_service_token_someone_else_owns(admin, member, project):
    created = token_create(principal=_principal(admin), owner=member, name="ci", project=project)
    token_revoke(principal=_principal(admin), token=created.token)
    assert ApiToken.objects.get(pk=created.token.pk).revoked_at is not None
    assert AuditEvent.objects.filter(action="token.revoke").count() == 1


def test_a_member_cannot_revoke_someone_elses_service_token(admin, member, project):
    created = token_create(principal=_principal(admin), owner=admin, name="ci", project=project)
    with pytest.raises(Forbidden):
        token_revoke(principal=_principal(member), token=created.token)
    assert ApiToken.objects.get(pk=created.token.pk).revoked_at is None


def test_another_user_cannot_revoke_a_personal_token(admin, outsider):
    created = token_create(principal=_principal(admin), owner=admin, name="laptop")
    with pytest.raises(NotFound):
        token_revoke(principal=_principal(outsider), token=created.token)
    assert ApiToken.objects.get(pk=created.token.pk).revoked_at is None


# --- a service token is the project's, never its creator's --------------------------------


def test_a_service_token_cannot_revoke_its_creators_personal_token(admin, project):
    personal = token_create(principal=_principal(admin), owner=admin, name="laptop").token
    secret = make_token(admin, project=project, role=Role.MEMBER, name="ci")
    with pytest.raises(NotFound):
        token_revoke(principal=_principal(admin, secret), token=personal)
    assert ApiToken.objects.get(pk=personal.pk).revoked_at is None


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_a_service_token_cannot_revoke_its_creators_other_service_token(admin, project, role):
    target = token_create(
        principal=_principal(admin), owner=admin, name="nightly", project=project
    ).token
    secret = make_token(admin, project=project, role=role, name="ci")
    with pytest.raises(Forbidden) as raised:
        token_revoke(principal=_principal(admin, secret), token=target)
    assert raised.value.message == "this needs the admin role in project 'vision'"
    assert ApiToken.objects.get(pk=target.pk).revoked_at is None


def test_a_service_token_cannot_revoke_itself(admin, project):
    secret = make_token(admin, project=project, role=Role.MEMBER, name="ci")
    token = ApiToken.objects.get(token_hash=token_hash(secret))
    with pytest.raises(Forbidden):
        token_revoke(principal=_principal(admin, secret), token=token)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_a_creator_who_is_no_longer_admin_cannot_revoke_the_projects_service_token(
    admin, member, project
):
    # The token is the project's: its creator revokes it as a project admin, or not at all.
    created = token_create(principal=_principal(admin), owner=member, name="ci", project=project)
    with pytest.raises(Forbidden):
        token_revoke(principal=_principal(member), token=created.token)
    assert ApiToken.objects.get(pk=created.token.pk).revoked_at is None


def test_a_personal_token_revokes_another_of_its_users_tokens(admin):
    # A personal token acts as its user, so it may do what the user may.
    laptop = token_create(principal=_principal(admin), owner=admin, name="laptop")
    old = token_create(principal=_principal(admin), owner=admin, name="old").token
    token_revoke(principal=_principal(admin, laptop.secret), token=old)
    assert ApiToken.objects.get(pk=old.pk).revoked_at is not None


def test_a_service_token_cannot_create_a_token_for_anyone(admin, member, project):
    secret = make_token(admin, project=project, role=Role.MEMBER, name="ci")
    with pytest.raises(Forbidden) as raised:
        token_create(principal=_principal(admin, secret), owner=member, name="theirs")
    assert raised.value.message == "a service token cannot create tokens"
    assert ApiToken.objects.count() == 1
