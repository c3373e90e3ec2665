"""A run that a live model's versions come from is not deleted
(apps.registry.services.run_delete_guard, registered into apps.runs.services)."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import Conflict
from apps.registry import services
from apps.runs.models import Run
from apps.runs.services import run_delete
from tests.registry.helpers import as_user, register


def test_a_run_a_live_models_version_points_at_is_not_deleted(project, member, admin, run):
    register(as_user(member), project, run)

    with pytest.raises(Conflict) as error:
        run_delete(principal=as_user(admin), run=run)

    assert error.value.code == "run_has_model_versions"
    assert "resnet v1" in error.value.message
    assert Run.objects.get(pk=run.pk).deleted_at is None
    assert not AuditEvent.objects.filter(action="run.delete").exists()


def test_once_the_model_is_deleted_the_run_can_be(project, member, admin, run):
    version = register(as_user(member), project, run)
    services.model_delete(principal=as_user(admin), model=version.model)

    run_delete(principal=as_user(admin), run=Run.objects.get(pk=run.pk))

    assert Run.objects.get(pk=run.pk).deleted_at is not None
    assert AuditEvent.objects.filter(action="run.delete").count() == 1


def test_a_run_no_version_points_at_is_deleted(project, member, admin, run):
    other = Run.objects.create(project=project, name="other", author=member)
    register(as_user(member), project, run)

    run_delete(principal=as_user(admin), run=other)

    assert Run.objects.get(pk=other.pk).deleted_at is not None
