"""Every traversal form is refused with 400 invalid_path, and nothing is written:
no artifact row, no audit event, no file in the store."""

from __future__ import annotations

import pytest

from apps.artifacts.models import Artifact
from apps.artifacts.paths import artifact_path_clean
from apps.audit.models import AuditEvent
from apps.core.errors import Invalid
from tests.artifacts.helpers import declare
from tests.artifacts.test_local_store import stored_files

REFUSED = {
    "../x": "path has an empty, '.' or '..' segment",
    "a/../../x": "path has an empty, '.' or '..' segment",
    "./a": "path has an empty, '.' or '..' segment",
    "a/./b": "path has an empty, '.' or '..' segment",
    "a//b": "path has an empty, '.' or '..' segment",
    "a/": "path has an empty, '.' or '..' segment",
    "..": "path has an empty, '.' or '..' segment",
    "/etc/passwd": "path must be relative: no leading '/' or drive letter",
    "C:\\x": "path must be relative: no leading '/' or drive letter",
    "c:x": "path must be relative: no leading '/' or drive letter",
    "C%3A/x": "path must be relative: no leading '/' or drive letter",
    "%2e%2e%2f": "path has a segment that decodes to a '/'",
    "%2e%2e/x": "path has an empty, '.' or '..' segment",
    "%252e%252e%252f": "path has a segment that decodes to a '/'",
    "%25252e%25252e/x": "path has an empty, '.' or '..' segment",
    "..%5c": "path contains '\\', '#', ';' or a control character",
    "..%255cx": "path contains '\\', '#', ';' or a control character",
    "a\\b": "path contains '\\', '#', ';' or a control character",
    "a#/../../x": "path contains '\\', '#', ';' or a control character",
    "a;/../x": "path contains '\\', '#', ';' or a control character",
    "a%23b": "path contains '\\', '#', ';' or a control character",
    "a\x00b": "text must not contain NUL (\\u0000) characters",  # refused by the JSON parser
    "a%00b": "path contains '\\', '#', ';' or a control character",
    "a\nb": "path contains '\\', '#', ';' or a control character",
    "a\x7fb": "path contains '\\', '#', ';' or a control character",
    "\uff0e\uff0e/x": "path has a segment that normalises to '.', '..', '/' or '\\'",
    "a\uff0fb": "path has a segment that normalises to '.', '..', '/' or '\\'",
    "%c0%ae%c0%ae/x": "path percent-encodes bytes that are not UTF-8",
    "%" + "25" * 9 + "41": "path is still percent-encoded after 8 decodings",
    "": "path must not be empty",
    "a" * 1025: "path must be at most 1024 bytes in UTF-8",
    "é" * 513: "path must be at most 1024 bytes in UTF-8",
}

ACCEPTED = [
    "model.pt",
    "a/b/c.txt",
    "a" * 1024,
    "plots/loss curve (final).png",
    "x/c:y",
    "100%",
    "%zz",
    "ünïcode/日本.txt",
    "...",
    ".hidden",
]


@pytest.mark.parametrize("path", sorted(REFUSED), ids=repr)
def test_a_traversal_path_is_refused_and_nothing_is_written(as_member, run_id, path):
    audit_before = AuditEvent.objects.count()
    response = declare(as_member, run_id, path, b"payload")
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "invalid_path", "message": REFUSED[path], "field": "path"}
    }
    assert Artifact.objects.count() == 0
    assert AuditEvent.objects.count() == audit_before
    assert stored_files() == []


@pytest.mark.parametrize("path", ACCEPTED, ids=repr)
def test_an_ordinary_path_is_kept_exactly(path):
    assert artifact_path_clean(path) == path


@pytest.mark.parametrize("value", [None, 7, ["a"], {"a": 1}])
def test_a_path_that_is_not_a_string_is_refused(value):
    with pytest.raises(Invalid) as caught:
        artifact_path_clean(value)
    assert (caught.value.code, caught.value.field) == ("invalid_path", "path")


def test_the_listing_refuses_a_traversal_folder(as_member, run_id):
    response = as_member.get(f"/api/v1/runs/{run_id}/artifacts", {"path": "a/../.."})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_path"
