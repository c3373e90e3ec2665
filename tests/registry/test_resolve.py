"""Resolving a reference (apps.registry.selectors.version_resolve): ``name@alias``,
``name/3``, ``name@latest`` and ``name`` (the newest version not archived)."""

from __future__ import annotations

import pytest

from apps.core.errors import NotFound
from apps.registry.models import ModelVersion, RegisteredModel
from apps.registry.selectors import version_resolve
from tests.registry.helpers import as_user, move, register


@pytest.fixture
def model(project, member, run) -> RegisteredModel:
    """``resnet`` with versions 1, 2 and 3 (3 archived), ``staging`` on 1."""
    for _ in range(3):
        register(as_user(member), project, run)
    model = RegisteredModel.objects.get(project=project, name="resnet")
    move(as_user(member), model, "staging", 1)
    ModelVersion.objects.filter(model=model, number=3).update(archived_at="2026-01-01T00:00Z")
    return model


@pytest.mark.parametrize(
    ("ref", "number"),
    [("resnet@staging", 1), ("resnet/2", 2), ("resnet/3", 3), ("resnet", 2), ("resnet@latest", 2)],
)
def test_a_reference_names_one_version(model, project, viewer, ref, number):
    version = version_resolve(principal=as_user(viewer), project=project, ref=ref)
    assert (version.model_id, version.number) == (model.pk, number)


@pytest.mark.parametrize(
    ("ref", "missing"),
    [("resnet@champion", "alias"), ("resnet/9", "version"), ("vgg@staging", "model")],
)
def test_what_a_reference_misses_is_named(model, project, viewer, ref, missing):
    with pytest.raises(NotFound, match=missing):
        version_resolve(principal=as_user(viewer), project=project, ref=ref)


def test_an_outsider_resolves_nothing(model, project, outsider):
    with pytest.raises(NotFound, match="project"):
        version_resolve(principal=as_user(outsider), project=project, ref="resnet@staging")
