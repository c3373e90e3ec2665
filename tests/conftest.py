"""Shared fixtures: personas, an API client per persona, and service gates.

Personas: ``admin``, ``member``, ``viewer`` (members of ``project`` with that role),
``outsider`` (a user with no membership), ``anonymous``, ``service`` and
``viewer_service`` (member and viewer service tokens of ``project``, both created by
``admin``) and ``other_project_token`` (a service token of another project).

Tests marked ``postgres`` or ``redis`` need that service, and tests marked ``browser``
need Chromium. Without it they skip with a reason that says how to run them, except
under ``CI=true``, where a missing service fails the run.
"""

from __future__ import annotations

import os
import shutil
import uuid

import pytest
from django.db import connection

from tests.factories import ProjectFactory, UserFactory, make_token

IN_CI = os.environ.get("CI", "").lower() == "true"

# The loopback Slack, Notion and GitHub servers, as fixtures for every test folder.
pytest_plugins = [
    "tests.notifications.fake_slack",
    "tests.notifications.fake_notion",
    "tests.sdk.fake_github",
    # How the suite runs: in parallel workers, each with databases of its own.
    "tests.suite",
]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite the test database is a file in this session's (this xdist worker's)
    temporary folder, opened with the embedded default's options (WAL, busy timeout,
    IMMEDIATE transactions), so the live server's threads each use a connection of
    their own, as a real server's do.

    Not Django's default in-memory database: its connections share one cache with
    table locks that fail at once ("database table is locked") instead of waiting,
    and when the live server starts after the database is set up, Django hands the
    test's own connection to every server thread, which then interleave their
    transactions on it ("cannot release savepoint - SQL statements in progress", a
    request's committed writes rolled back by another's error)."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        folder = tmp_path_factory.mktemp("database")
        database.setdefault("TEST", {})["NAME"] = str(folder / "test.sqlite3")


def pytest_collection_modifyitems(config, items):
    for item in items:
        # Real commits: the browser tests' live server reads through its own connection.
        if item.get_closest_marker("postgres") or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.django_db(transaction=True))


# (marker, is the service missing?, how to provide it)
SERVICE_GATES = (
    (
        "postgres",
        lambda: connection.vendor != "postgresql",
        "needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiroku "
        "(make test-postgres)",
    ),
    (
        "redis",
        lambda: not os.environ.get("REDIS_URL"),
        "needs Redis: run with REDIS_URL=redis://127.0.0.1:6379/15",
    ),
    (
        "browser",
        lambda: shutil.which("chromium") is None,
        "needs Chromium on PATH: apt-get install -y chromium (nothing is downloaded)",
    ),
)


@pytest.fixture(autouse=True)
def _service_gates(request):
    for marker, missing, reason in SERVICE_GATES:
        if request.node.get_closest_marker(marker) and missing():
            if IN_CI:
                pytest.fail(f"CI=true but a service is missing; {reason}")
            # Deliberate, and the reason says how to run it: `make test` must pass on a
            # new machine with only Python (the README's promise), while CI=true turns
            # this into the failure above, so CI never passes without PostgreSQL, Redis
            # and Chromium.
            pytest.skip(reason)


@pytest.fixture(autouse=True)
def _tasks_in_process():
    """Tasks run in-process (after commit, as in the embedded default) unless a test
    asks for the real broker and worker (``celery_worker``)."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture(autouse=True)
def _throttles_out_of_reach():
    """The suite sends thousands of requests from one address, many without a token:
    every throttle stays on (its code runs) with a rate no test reaches. The throttle
    tests set small rates and a cache of their own (tests/core/test_throttles.py)."""
    from django.conf import settings
    from django.test import override_settings

    out_of_reach = (10**9, 60)
    # Every configured scope, so a throttle added later is covered too.
    rates = dict.fromkeys(settings.KIROKU_THROTTLE_RATES, out_of_reach)
    with override_settings(KIROKU_THROTTLE_RATES=rates):
        yield


@pytest.fixture(autouse=True)
def _artifacts_in_tmp(tmp_path):
    """Artifacts go to a fresh local folder per test (S3 tests switch to moto)."""
    from django.test import override_settings

    store = {"backend": "local", "root": tmp_path / "artifacts"}
    with override_settings(KIROKU_ARTIFACT_STORE=store):
        yield


@pytest.fixture
def project(db, admin, member, viewer):
    from apps.projects.models import Membership, Role

    project = ProjectFactory(slug="vision", name="Vision")
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    Membership.objects.create(project=project, user=member, role=Role.MEMBER)
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    return project


@pytest.fixture
def other_project(db):
    return ProjectFactory(slug="other", name="Other")


@pytest.fixture
def admin(db):
    return UserFactory(username="alice_admin")


@pytest.fixture
def member(db):
    return UserFactory(username="bob_member")


@pytest.fixture
def viewer(db):
    return UserFactory(username="carol_viewer")


@pytest.fixture
def outsider(db):
    return UserFactory(username="mallory_outsider")


@pytest.fixture
def staff(db):
    return UserFactory(username="sam_staff", is_staff=True)


class Api:
    """An API client acting as one persona (or nobody)."""

    def __init__(self, secret: str | None):
        from rest_framework.test import APIClient

        self.client = APIClient()
        self.secret = secret
        if secret:
            self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def __getattr__(self, method):
        if method not in {"get", "post", "patch", "put", "delete"}:
            raise AttributeError(method)

        def call(path, data=None, **kwargs):
            if method == "get":
                return self.client.get(path, data, **kwargs)
            return getattr(self.client, method)(path, data, format="json", **kwargs)

        return call


@pytest.fixture
def api_as():
    def build(user_or_secret):
        if user_or_secret is None:
            return Api(None)
        if isinstance(user_or_secret, str):
            return Api(user_or_secret)
        return Api(make_token(user_or_secret))

    return build


@pytest.fixture
def as_admin(api_as, admin, project):
    return api_as(admin)


@pytest.fixture
def as_member(api_as, member, project):
    return api_as(member)


@pytest.fixture
def as_viewer(api_as, viewer, project):
    return api_as(viewer)


@pytest.fixture
def as_outsider(api_as, outsider, project):
    return api_as(outsider)


@pytest.fixture
def as_anonymous(api_as, project):
    return api_as(None)


@pytest.fixture
def as_service(api_as, admin, project):
    """A member service token of ``project``, created by its admin."""
    from apps.projects.models import Role

    return api_as(make_token(admin, project=project, role=Role.MEMBER, name="ci"))


@pytest.fixture
def as_viewer_service(api_as, admin, project):
    """A viewer service token of ``project``, created by its admin."""
    from apps.projects.models import Role

    return api_as(make_token(admin, project=project, role=Role.VIEWER, name="dashboard"))


@pytest.fixture
def as_other_project_token(api_as, admin, other_project):
    """A member service token of ``other_project``, created by the same admin (an admin
    there too, so the token works): it must reach nothing of ``project``."""
    from apps.projects.models import Membership, Role

    Membership.objects.get_or_create(
        project=other_project, user=admin, defaults={"role": Role.ADMIN}
    )
    return api_as(make_token(admin, project=other_project, role=Role.MEMBER, name="other-ci"))


@pytest.fixture
def make_run(as_member):
    """Create a run through the API as the member; returns its public id."""

    def build(slug: str = "vision", **body) -> str:
        response = as_member.post(f"/api/v1/projects/{slug}/runs", {"name": "run", **body})
        assert response.status_code == 201, response.json()
        return response.json()["id"]

    return build


@pytest.fixture
def record_run(as_member, make_run):
    """Record a run through the API as the member: one point at step 0 per metric, a
    git branch and commit, finished unless ``finish=False``; returns its public id.
    Other keyword arguments are run-create fields (``ci={...}``)."""

    def build(name: str, metrics: dict, *, branch="main", finish=True, **create) -> str:
        run_id = make_run(name=name, git={"branch": branch, "commit": "c0ffee" + name}, **create)
        batch = [{"key": key, "value": value, "step": 0} for key, value in metrics.items()]
        body = {"batch_id": uuid.uuid4().hex, "metrics": batch}
        assert as_member.post(f"/api/v1/runs/{run_id}/log", body).status_code == 200
        if finish:
            answer = as_member.post(f"/api/v1/runs/{run_id}/finish", {"status": "finished"})
            assert answer.status_code == 200
        return run_id

    return build


@pytest.fixture
def run_id(make_run) -> str:
    return make_run(name="resnet50")


def points(key: str, steps, value=lambda s: float(s)) -> list[dict]:
    return [{"key": key, "value": value(s), "step": s} for s in steps]


@pytest.fixture(scope="session")
def s3_endpoint():
    """An S3 server over real HTTP on 127.0.0.1 (moto's server mode), for the session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_store(s3_endpoint, monkeypatch):
    """Artifacts in a fresh bucket of the moto server; returns a boto3 client on it
    (the test's own view of the bucket) and the bucket name as ``client.bucket``."""
    import uuid

    import boto3
    from django.test import override_settings

    for name, value in {
        "AWS_ACCESS_KEY_ID": "kiroku-test",
        "AWS_SECRET_ACCESS_KEY": "kiroku-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    bucket = f"kiroku-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    store = {"backend": "s3", "bucket": bucket, "prefix": "runs"}
    with override_settings(
        KIROKU_ARTIFACT_STORE=store,
        KIROKU_S3_ENDPOINT_URL=s3_endpoint,
        KIROKU_S3_REGION="us-east-1",
    ):
        client.bucket = bucket
        yield client
