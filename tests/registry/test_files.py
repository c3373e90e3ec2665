"""Downloading a version (apps.registry.services.version_files): one short-lived URL
per file of the manifest, serving that file's bytes, and one audit event."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from apps.core.errors import NotFound
from apps.registry import services
from apps.runs.models import Run
from tests.artifacts.helpers import upload
from tests.registry.helpers import as_user, register

FILES = {"model/weights.pt": b"\x00weights\xff" * 100, "model/config.json": b'{"depth": 50}'}


@pytest.fixture
def uploaded_run(project, as_member) -> Run:
    """A run whose files were uploaded to the (local) store as a client does."""
    run = Run.objects.create(project=project, name="uploaded")
    for path, data in FILES.items():
        upload(as_member, run.public_id, path, data)
    return run


def test_one_url_per_file_and_one_audit_event(project, member, viewer, uploaded_run):
    version = register(as_user(member), project, uploaded_run)

    files = services.version_files(
        principal=as_user(viewer), version=version, base_url="http://testserver"
    )

    assert [entry["path"] for entry, _ in files] == ["config.json", "weights.pt"]
    for entry, url in files:
        assert url.startswith("http://testserver/store/")
        served = APIClient().get(url.removeprefix("http://testserver"))
        assert served.status_code == 200
        assert b"".join(served.streaming_content) == FILES[f"model/{entry['path']}"]
    events = AuditEvent.objects.filter(action="model.download")
    assert [(e.target_label, e.metadata["files"], e.actor_label) for e in events] == [
        ("resnet v1", 2, viewer.username)
    ]


def test_an_outsider_gets_no_urls(project, member, outsider, uploaded_run):
    version = register(as_user(member), project, uploaded_run)

    with pytest.raises(NotFound):
        services.version_files(
            principal=as_user(outsider), version=version, base_url="http://testserver"
        )

    assert not AuditEvent.objects.filter(action="model.download").exists()
