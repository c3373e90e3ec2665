"""What a run's share link reveals: by default its name, status, params, metrics and
charts, summary and notes, and none of the parts a creator must tick (git, command
line, hostname, directories, environment, CI, files); each ticked part adds exactly
that part. Checked on the page and on every URL the page makes its browser fetch."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.test import Client

from apps.artifacts.models import Artifact
from apps.audit.models import AuditEvent
from apps.collab.models import SHARE_PART_NAMES, ShareLink
from tests.artifacts.helpers import upload

API = "/api/v1"

# A marker per part, recorded where the SDK records that part; none may show through a
# link that does not reveal its part.
MARKERS = {
    "git_diff": ["COMMITMARK", "BRANCHMARK", "REMOTEMARK", "DIFFMARK"],
    "command": ["COMMANDMARK"],
    "host": ["HOSTMARK"],
    "directory": ["CWDMARK", "DATASETURIMARK"],
    "environment": ["PYTHONMARK", "OSMARK", "PACKAGEMARK", "GPUMARK"],
    "ci": ["CIREPOMARK", "WORKFLOWMARK"],
    "artifacts": ["ARTIFACTMARK", "FILEBYTESMARK"],
}
# What every link shows, whatever it reveals.
ALWAYS = ["RUNNAMEMARK", "PARAMMARK", "SUMMARYMARK", "NOTESMARK", "DATASETNAMEMARK", "loss"]
RUN = {
    "name": "RUNNAMEMARK",
    "params": {"lr": "PARAMMARK"},
    "notes": "NOTESMARK",
    "git": {
        "commit": "COMMITMARK0123",
        "branch": "feature/BRANCHMARK",
        "remote": "https://git.example.com/acme/REMOTEMARK.git",
        "dirty": True,
        "diff": "--- a/train.py\n+++ b/train.py\n+# DIFFMARK\n",
    },
    "environment": {
        "python": "3.11.7-PYTHONMARK",
        "os": "Linux-OSMARK",
        "packages": ["PACKAGEMARK==1.0"],
        "gpus": [{"name": "GPUMARK H100", "memory_total": 1024, "driver": "550"}],
        "cpu_count": 16,
        "command": ["python", "train.py", "--COMMANDMARK"],
        "cwd": "/home/alice/CWDMARK",
        "hostname": "HOSTMARK-07",
    },
    "ci": {
        "provider": "github",
        "repository": "acme/CIREPOMARK",
        "workflow_url": "https://github.com/acme/vision/actions/runs/WORKFLOWMARK",
        "pr": 12,
    },
    "datasets": [{"name": "DATASETNAMEMARK", "uri": "s3://acme/DATASETURIMARK/train"}],
}
# The URLs under a link's token that the shared run page and its fragments can name;
# every one must be fetched below, so a new fragment is checked too.
_LINKED = re.compile(r'/s/(?P<token>[A-Za-z0-9_-]{20,100})(?P<rest>/[^"\'\s<>?]*)?')


@pytest.fixture
def recorded(as_member, make_run) -> str:
    """A running run with every part recorded, a metric, a summary value and a file."""
    run_id = make_run(**RUN)
    body = {
        "batch_id": "b1",
        "metrics": [{"key": "loss", "value": 0.5, "step": 0}],
        "summary": {"best": "SUMMARYMARK"},
    }
    assert as_member.post(f"{API}/runs/{run_id}/log", body).status_code == 200
    upload(as_member, run_id, "ARTIFACTMARK.txt", b"FILEBYTESMARK")
    return run_id


def share(as_member, run_id: str, **include) -> str:
    """A link made through the API with ``include``; returns its /s/<token> path."""
    response = as_member.post(f"{API}/runs/{run_id}/share-links", include)
    assert response.status_code == 201, response.json()
    return urlsplit(response.json()["url"]).path


def everything_shown(path: str) -> str:
    """The page at ``path`` and every answer of every URL under its token that the page
    or those answers name (chart data with the metric's key, the status badge, artifact
    folders and downloads, followed to the stored bytes), joined. Also asserts that the
    page names its chart data and that nothing it names is left unfetched."""
    client = Client()
    token = path.removeprefix("/s/")
    page = client.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-metrics-url="{path}/metrics"' in html
    assert f'data-history-url="{path}/metrics/history"' in html
    assert f'hx-get="{path}/status"' in html  # polled while the run is live
    # The page first (its URLs are followed like any answer's), then the charts' data.
    queue = [path, f"{path}/metrics", f"{path}/metrics/history?key=loss", f"{path}/status"]
    texts: list[str] = []
    seen: set[str] = set()
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        answer = client.get(url)
        if answer.status_code == 302:
            served = client.get(urlsplit(answer["Location"]).path)
            texts.append(b"".join(served.streaming_content).decode())
            continue
        assert answer.status_code in (200, 286), (url, answer.status_code)
        text = answer.content.decode()
        texts.append(text)
        for match in _LINKED.finditer(text):
            assert match["token"] == token
            rest = match["rest"] or ""
            if rest in ("", "/metrics", "/metrics/history", "/status"):
                continue  # fetched (history needs its key)
            queue.append(f"/s/{token}{rest}")
    return "\n".join(texts)


def test_a_default_link_shows_no_part_on_the_page_or_any_fragment(as_member, recorded):
    shown = everything_shown(share(as_member, recorded))
    for marker in ALWAYS:
        assert marker in shown
    leaked = [m for markers in MARKERS.values() for m in markers if m in shown]
    assert leaked == []


def test_a_default_link_refuses_the_files(as_member, recorded):
    path = share(as_member, recorded)
    artifact_id = Artifact.objects.get(path="ARTIFACTMARK.txt").id.hex
    assert Client().get(f"{path}/artifacts").status_code == 404
    assert Client().get(f"{path}/artifacts/{artifact_id}/download").status_code == 404


@pytest.mark.parametrize("part", SHARE_PART_NAMES)
def test_ticking_a_part_reveals_exactly_that_part(as_member, recorded, part):
    shown = everything_shown(share(as_member, recorded, **{f"include_{part}": True}))
    for marker in MARKERS[part] + ALWAYS:
        assert marker in shown
    leaked = [m for name, markers in MARKERS.items() if name != part for m in markers]
    assert [m for m in leaked if m in shown] == []


def test_every_part_ticked_shows_everything(as_member, recorded):
    shown = everything_shown(
        share(as_member, recorded, **{f"include_{part}": True for part in SHARE_PART_NAMES})
    )
    assert [m for markers in MARKERS.values() for m in markers if m not in shown] == []


def test_the_page_says_what_it_leaves_out(as_member, recorded):
    html = Client().get(share(as_member, recorded, include_command=True)).content.decode()
    assert (
        '<p class="muted withheld" id="code-withheld">Not shown through this link: '
        "git, directories.</p>" in html
    )
    assert (
        '<p class="muted withheld" id="environment-withheld">Not shown through this link: '
        "environment, hostname.</p>" in html
    )
    assert "Not shown through this link: CI details." in html
    assert "<li>The command line</li>" in html
    assert "Not shown: git, hostname, directories, environment, CI, files." in html


# ---- the API --------------------------------------------------------------------------


def test_the_api_answers_and_lists_what_a_link_reveals(as_member, recorded):
    body = as_member.post(
        f"{API}/runs/{recorded}/share-links",
        {"include_ci": True, "include_git_diff": True, "include_command": False},
    ).json()
    assert body["reveals"] == ["git_diff", "ci"]
    default = as_member.post(f"{API}/runs/{recorded}/share-links", {}).json()
    assert default["reveals"] == []
    listed = as_member.get(f"{API}/runs/{recorded}/share-links").json()["results"]
    assert [(x["id"], x["reveals"]) for x in listed] == [
        (default["id"], []),
        (body["id"], ["git_diff", "ci"]),
    ]
    link = ShareLink.objects.get(pk=body["id"])
    assert (link.include_git_diff, link.include_ci, link.include_command) == (True, True, False)


@pytest.mark.parametrize("field", [f"include_{part}" for part in SHARE_PART_NAMES])
@pytest.mark.parametrize("value", ["yes", 1, None, [], {"a": True}])
def test_a_reveal_that_is_not_a_boolean_is_refused_naming_it(as_member, run_id, field, value):
    response = as_member.post(f"{API}/runs/{run_id}/share-links", {field: value})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid",
        "message": f"{field} must be true or false",
        "field": field,
    }
    assert ShareLink.objects.count() == 0


def test_an_unknown_reveal_is_refused_naming_it(as_member, run_id):
    response = as_member.post(f"{API}/runs/{run_id}/share-links", {"include_secrets": True})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid", "include_secrets")
    assert ShareLink.objects.count() == 0


def test_the_audit_event_records_what_the_link_reveals(as_member, run_id):
    body = as_member.post(
        f"{API}/runs/{run_id}/share-links", {"include_host": True, "include_artifacts": True}
    ).json()
    event = AuditEvent.objects.get(action="share_link.create")
    assert event.metadata == {
        "id": body["id"],
        "expires_at": ShareLink.objects.get().expires_at.isoformat(),
        "include_artifacts": True,
        "reveals": ["host", "artifacts"],
    }
