"""Archiving versions (apps.registry.services.version_update with ``archived``):
admins only, never a version an alias points at, and an archived version gets no
alias."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import Conflict, Forbidden
from apps.registry import services
from apps.registry.models import ModelAlias, ModelVersion, RegisteredModel
from apps.registry.validation import version_update_clean
from tests.registry.helpers import alias_target, as_user, move, register


@pytest.fixture
def model(project, member, run) -> RegisteredModel:
    """``resnet`` with versions 1 and 2."""
    register(as_user(member), project, run)
    register(as_user(member), project, run)
    return RegisteredModel.objects.get(project=project, name="resnet")


def _archive(principal, model: RegisteredModel, number: int, archived: bool = True) -> ModelVersion:
    version = ModelVersion.objects.select_related("model__project").get(model=model, number=number)
    data = version_update_clean({"archived": archived})
    return services.version_update(principal=principal, version=version, data=data)


def test_an_admin_archives_a_version_no_alias_points_at(model, admin):
    _archive(as_user(admin), model, 1)

    assert ModelVersion.objects.get(model=model, number=1).archived_at is not None
    assert ModelVersion.objects.get(model=model, number=2).archived_at is None
    event = AuditEvent.objects.order_by("-id").first()
    assert (event.action, event.target_label) == ("model.version_archive", "resnet v1")


def test_an_admin_unarchives_a_version(model, admin):
    _archive(as_user(admin), model, 1)

    _archive(as_user(admin), model, 1, archived=False)

    assert ModelVersion.objects.get(model=model, number=1).archived_at is None
    assert AuditEvent.objects.order_by("-id").first().action == "model.version_restore"


def test_a_version_an_alias_points_at_cannot_be_archived(model, admin, member):
    move(as_user(member), model, "staging", 1)

    with pytest.raises(Conflict) as error:
        _archive(as_user(admin), model, 1)

    assert error.value.field == "archived"
    assert "staging" in error.value.message
    assert ModelVersion.objects.get(model=model, number=1).archived_at is None
    assert not AuditEvent.objects.filter(action="model.version_archive").exists()


def test_an_archived_version_cannot_receive_an_alias(model, admin):
    _archive(as_user(admin), model, 1)

    with pytest.raises(Conflict) as error:
        move(as_user(admin), model, "staging", 1)

    assert error.value.field == "version"
    assert not ModelAlias.objects.filter(version__number=1).exists()
    assert not AuditEvent.objects.filter(action="model.alias_move").exists()


def test_an_alias_that_points_at_an_archived_version_stays_where_it_was(model, admin):
    move(as_user(admin), model, "staging", 2)
    _archive(as_user(admin), model, 1)

    with pytest.raises(Conflict):
        move(as_user(admin), model, "staging", 1)

    assert alias_target(model, "staging") == 2


def test_a_member_cannot_archive(model, member):
    with pytest.raises(Forbidden):
        _archive(as_user(member), model, 1)

    assert ModelVersion.objects.get(model=model, number=1).archived_at is None
