"""Registering versions (apps.registry.services.version_create): numbering and the
manifest."""

from __future__ import annotations

import hashlib
import json

import pytest

from apps.artifacts.models import Artifact, ArtifactState
from apps.audit.models import AuditEvent
from apps.core.errors import Invalid
from apps.registry import services
from apps.registry.models import ModelVersion, RegisteredModel
from apps.runs.models import Run
from tests.artifacts.helpers import declare
from tests.registry.helpers import artifact, as_user, register, sha


def test_versions_of_one_model_are_numbered_1_2_3(project, member, run):
    numbers = [register(as_user(member), project, run).number for _ in range(3)]

    assert numbers == [1, 2, 3]
    model = RegisteredModel.objects.get(project=project, name="resnet")
    assert model.last_version == 3
    assert list(model.versions.order_by("number").values_list("number", flat=True)) == [1, 2, 3]


def test_a_version_of_a_new_name_creates_the_model(project, member, run):
    version = register(as_user(member), project, run, name="team/detector v2")

    model = RegisteredModel.objects.get(project=project, name="team/detector v2")
    assert version.model == model
    assert version.number == 1
    assert model.created_by == member
    events = AuditEvent.objects.filter(project_id=project.pk).order_by("id")
    assert list(events.values_list("action", flat=True)) == ["model.create", "model.version_create"]


def test_each_model_has_its_own_numbers(project, member, run):
    register(as_user(member), project, run, name="resnet")
    register(as_user(member), project, run, name="resnet")

    assert register(as_user(member), project, run, name="vit").number == 1


def test_the_manifest_lists_the_folder_relative_to_it_with_sizes_and_hashes(project, member, run):
    version = register(as_user(member), project, run)

    public = [{k: e[k] for k in ("path", "size", "sha256")} for e in version.manifest]
    assert public == [
        {"path": "config/params.json", "size": 13, "sha256": sha(b'{"depth": 50}')},
        {"path": "weights.pt", "size": 7, "sha256": sha(b"weights")},
    ]
    assert version.path == "model/"


def test_a_folder_named_without_its_slash_is_the_same_folder(project, member, run):
    version = register(as_user(member), project, run, path="model")

    assert [e["path"] for e in version.manifest] == ["config/params.json", "weights.pt"]


def test_the_manifest_digest_is_sha256_of_its_canonical_json(project, member, run):
    version = register(as_user(member), project, run)

    # Written in another key order and unsorted: the canonical form fixes both.
    entries = [
        {"sha256": e["sha256"], "size": e["size"], "path": e["path"]}
        for e in reversed(version.manifest)
    ]
    canonical = json.dumps(
        sorted(entries, key=lambda e: e["path"]), sort_keys=True, separators=(",", ":")
    )
    assert version.manifest_digest == hashlib.sha256(canonical.encode()).hexdigest()
    assert ModelVersion.objects.get(pk=version.pk).manifest_digest == version.manifest_digest


def test_the_whole_run_is_registered_with_an_empty_path(project, member, run):
    version = register(as_user(member), project, run, path="")

    assert [e["path"] for e in version.manifest] == [
        "log.txt",
        "model/config/params.json",
        "model/weights.pt",
    ]


def test_a_single_file_path_registers_that_file_under_its_name(project, member, run):
    version = register(as_user(member), project, run, path="model/weights.pt")

    assert [(e["path"], e["size"], e["sha256"]) for e in version.manifest] == [
        ("weights.pt", 7, sha(b"weights"))
    ]


def test_a_folder_with_a_file_still_uploading_is_invalid(project, member, run, as_member):
    # Declared through the artifacts API and never completed: the row a client leaves
    # while its bytes are on the way.
    declared = declare(as_member, run.public_id, "model/optimizer.pt", b"state")
    assert declared.status_code == 201, declared.json()
    assert Artifact.objects.get(path="model/optimizer.pt").state == ArtifactState.PENDING

    with pytest.raises(Invalid) as error:
        register(as_user(member), project, run)

    assert error.value.field == "path"
    assert "model/optimizer.pt" in error.value.message
    assert not RegisteredModel.objects.exists()


def test_an_empty_folder_is_invalid(project, member, run):
    with pytest.raises(Invalid) as error:
        register(as_user(member), project, run, path="checkpoints/")

    assert error.value.field == "path"
    assert not RegisteredModel.objects.exists()


def test_a_run_without_artifacts_is_invalid(project, member):
    bare = Run.objects.create(project=project, name="bare", author=member)

    with pytest.raises(Invalid) as error:
        register(as_user(member), project, bare, path="")

    assert error.value.field == "path"


def test_a_folder_is_matched_with_its_case(project, member, run):
    artifact(run, "Model/weights.pt", b"other weights")

    version = register(as_user(member), project, run, path="Model/")

    assert [e["path"] for e in version.manifest] == ["weights.pt"]
    assert version.manifest[0]["sha256"] == sha(b"other weights")


def test_a_deleted_models_name_starts_again_at_version_1(project, member, admin, run):
    first = register(as_user(member), project, run)
    register(as_user(member), project, run)
    services.model_delete(principal=as_user(admin), model=first.model)

    version = register(as_user(member), project, run)

    assert version.number == 1
    assert version.model_id != first.model_id
    assert RegisteredModel.objects.filter(name="resnet", deleted_at__isnull=True).count() == 1
