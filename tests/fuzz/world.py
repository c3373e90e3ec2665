"""The project the fuzzers aim at: real rows behind every path parameter, so generated
requests get past authentication and the 404 and reach the code that parses them.

``world_build`` makes, through the API as a project admin: two runs (one running, with
params, tags, git, datasets, CI context and metric history — including points at both
ends of the 64-bit step range — and one finished with a CI report), a soft-deleted run
and project (for the restore operations), an artifact, a comment with a reply, a share
link, Slack and Notion destinations pointing at the loopback fakes, a rule, and a viewer
and an outsider account. ``World.aim`` points most generated requests at those rows.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

from apps.projects.models import Membership, Role
from tests.artifacts.helpers import sha, upload
from tests.conftest import Api
from tests.factories import ProjectFactory, UserFactory, make_token

API = "/api/v1"
SLUG = "fuzz"
VIEWER = "fuzz_viewer"
OUTSIDER = "fuzz_outsider"
STEP_MIN, STEP_MAX = -(2**63), 2**63 - 1


@dataclass
class World:
    token: str
    # path parameter name -> the real values it may take
    ids: dict[str, list[str]] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def pick(self, name: str, salt: str) -> str:
        """One of the real values for ``name``, chosen by ``salt`` (deterministic)."""
        values = self.ids[name]
        return values[zlib.crc32(salt.encode()) % len(values)]


def _ok(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    return response.json() if response.content else {}


def world_build(*, slack_token: str, notion_token: str, notion_database: str) -> World:
    """Build the world (see the module docstring) and return its admin's token and
    the real values of each path parameter, the live rows first."""
    admin = UserFactory(username="fuzz_admin")
    viewer = UserFactory(username=VIEWER)
    UserFactory(username=OUTSIDER)
    project = ProjectFactory(slug=SLUG, name="Fuzz")
    archived = ProjectFactory(slug="fuzz-archived", name="Archived")
    for p in (project, archived):
        Membership.objects.create(project=p, user=admin, role=Role.ADMIN)
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    token = make_token(admin)
    api = Api(token)

    run = _ok(
        api.post(
            f"{API}/projects/{SLUG}/runs",
            {
                "name": "resnet50",
                "group": "sweep-1",
                "params": {"lr": 0.001, "optimizer": "adam", "layers": 50},
                "tags": {"team": "vision"},
                "git": {"commit": "4f2a9c1", "branch": "main", "dirty": True, "diff": "+x"},
                "environment": {"python": "3.11.7", "os": "Linux", "cpu_count": 8},
                "ci": {"provider": "github", "commit": "4f2a9c1", "ref": "refs/pull/7", "pr": 7},
                "datasets": [{"name": "train", "uri": "data/train", "size": 1024, "file_count": 3}],
            },
        ),
        201,
    )["id"]
    metrics = [{"key": "loss", "value": 1.0 / (s + 1), "step": s} for s in range(50)]
    metrics += [{"key": "eval/acc", "value": v, "step": s} for s, v in enumerate([0.5, "NaN"])]
    # Steps span the whole signed 64-bit range: the downsampling must not overflow.
    metrics += [
        {"key": "edge", "value": float(i), "step": s}
        for i, s in enumerate((STEP_MIN, -1, 0, 1, STEP_MAX))
    ]
    _ok(api.post(f"{API}/runs/{run}/log", {"batch_id": uuid.uuid4().hex, "metrics": metrics}), 200)

    finished = _ok(api.post(f"{API}/projects/{SLUG}/runs", {"name": "baseline"}), 201)["id"]
    batch = {"batch_id": uuid.uuid4().hex, "metrics": [{"key": "loss", "value": 0.5, "step": 0}]}
    _ok(api.post(f"{API}/runs/{finished}/log", batch), 200)
    _ok(api.post(f"{API}/runs/{finished}/ci-report", {"status": "finished"}), 201)

    deleted = _ok(api.post(f"{API}/projects/{SLUG}/runs", {"name": "gone"}), 201)["id"]
    _ok(api.delete(f"{API}/runs/{deleted}"), 204)
    _ok(api.delete(f"{API}/projects/{archived.slug}"), 204)

    pending = _ok(
        api.post(
            f"{API}/runs/{run}/artifacts", {"path": "a.bin", "size": 3, "sha256": sha(b"abc")}
        ),
        201,
    )["id"]
    complete = upload(api, run, "model/weights.bin", b"weights")["id"]

    comment = _ok(api.post(f"{API}/runs/{run}/comments", {"body": f"@{VIEWER} look"}), 201)["id"]
    reply = _ok(api.post(f"{API}/runs/{run}/comments", {"body": "ok", "parent": comment}), 201)
    link = _ok(api.post(f"{API}/runs/{run}/share-links", {"include_artifacts": True}), 201)["id"]

    slack = _ok(
        api.post(
            f"{API}/projects/{SLUG}/destinations",
            {
                "kind": "slack",
                "name": "alerts",
                "config": {"token": slack_token, "channel": "C0KIROKU01"},
            },
        ),
        201,
    )["id"]
    notion = _ok(
        api.post(
            f"{API}/projects/{SLUG}/destinations",
            {
                "kind": "notion",
                "name": "results",
                "config": {"token": notion_token, "database_id": notion_database},
            },
        ),
        201,
    )["id"]
    rule = _ok(
        api.post(f"{API}/projects/{SLUG}/rules", {"event": "run.finished", "destination": slack}),
        201,
    )["id"]

    # The model registry: a version of the run's model/ folder, an alias, a protected
    # alias and a promotion request to it.
    _ok(
        api.post(
            f"{API}/projects/{SLUG}/models/resnet/versions",
            {"run_id": run, "path": "model/", "aliases": ["staging"], "flavor": "pytorch"},
        ),
        201,
    )
    _ok(
        api.patch(f"{API}/projects/{SLUG}/models/resnet/aliases/champion", {"protected": True}), 200
    )
    promotion = _ok(
        api.post(
            f"{API}/projects/{SLUG}/models/resnet/promotions",
            {"version": 1, "alias": "champion", "reason": "better"},
        ),
        201,
    )["id"]

    return World(
        token=token,
        ids={
            "slug": [SLUG, SLUG, archived.slug],
            "run_id": [run, run, finished, deleted],
            "artifact_id": [str(pending), str(complete)],
            "comment_id": [str(comment), str(reply["id"])],
            "link_id": [str(link)],
            "destination_id": [str(slack), str(notion)],
            "rule_id": [str(rule)],
            "username": [VIEWER, OUTSIDER],
            "name": ["resnet"],
            "number": ["1"],
            "alias": ["staging", "champion"],
            "request_id": [str(promotion)],
        },
    )


def body_fields(world: World, body: Any, salt: str) -> Any:
    """``body`` with the fields that name another row pointed at a real one."""
    if not isinstance(body, dict):
        return body
    real = {"destination": "destination_id", "parent": "comment_id"}
    out = dict(body)
    for key, name in real.items():
        if key in out:
            out[key] = int(world.pick(name, salt))
    if "username" in out:
        out["username"] = OUTSIDER
    if "run_id" in out:
        out["run_id"] = world.pick("run_id", salt)
    return out
