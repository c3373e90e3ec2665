"""Concurrent writes to one model (PostgreSQL, real threads, each with its own
connection and transaction): version numbers and alias moves are decided under the
lock on the model's row, so they never collide and the audit trail stays a chain."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import pytest
from django.db import connections

from apps.audit.models import AuditEvent
from apps.core.errors import Conflict
from apps.projects.models import Project
from apps.registry.models import ModelVersion, RegisteredModel
from apps.runs.models import Run
from apps.runs.services import run_delete
from tests.pg_locks import pg_test_dsn, wait_for, waiting_backends
from tests.registry.helpers import alias_target, as_user, move, register

pytestmark = pytest.mark.postgres


def _in_thread(name: str, work: Callable[[], object], results: dict) -> threading.Thread:
    """Run ``work`` in a thread (its own database connection); its return value or
    exception goes into ``results[name]``."""

    def run():
        try:
            results[name] = work()
        except Exception as error:  # reported by the test's assertions
            results[name] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _register_in_thread(name: str, user, project: Project, run: Run, results: dict):
    def work():
        fresh_project = Project.objects.get(pk=project.pk)
        fresh_run = Run.objects.get(pk=run.pk)
        return register(as_user(user), fresh_project, fresh_run, name="resnet").number

    return _in_thread(name, work, results)


def test_two_registrations_of_one_model_get_consecutive_numbers(project, member, admin, run):
    model = RegisteredModel.objects.create(project=project, name="resnet")
    results: dict[str, object] = {}
    with psycopg.connect(pg_test_dsn(), autocommit=False) as blocker:
        # Hold the model's row so both registrations stop at the numbering lock,
        # having both read last_version == 0 before it.
        blocker.execute(
            "SELECT 1 FROM registry_registeredmodel WHERE id = %s FOR UPDATE", (model.pk,)
        )
        threads = [
            _register_in_thread("a", member, project, run, results),
            _register_in_thread("b", admin, project, run, results),
        ]
        wait_for(lambda: waiting_backends(blocker) == 2, "both registrations to block")
        blocker.rollback()
    for thread in threads:
        thread.join()

    assert sorted(results.values()) == [1, 2]
    assert RegisteredModel.objects.get(pk=model.pk).last_version == 2
    assert sorted(ModelVersion.objects.values_list("number", flat=True)) == [1, 2]


def test_two_first_registrations_of_a_new_name_make_one_model(project, member, admin, run):
    results: dict[str, object] = {}
    with psycopg.connect(pg_test_dsn(), autocommit=False) as blocker:
        # An uncommitted row of the same name: both registrations find no model, and
        # both inserts of one wait on the unique name; then it rolls back.
        blocker.execute(
            "INSERT INTO registry_registeredmodel (project_id, name, description, tags, "
            "last_version, created_at, updated_at) "
            "VALUES (%s, 'resnet', '', '{}', 0, now(), now())",
            (project.pk,),
        )
        threads = [
            _register_in_thread("a", member, project, run, results),
            _register_in_thread("b", admin, project, run, results),
        ]
        wait_for(lambda: waiting_backends(blocker) == 2, "both model inserts to block")
        blocker.rollback()
    for thread in threads:
        thread.join()

    assert sorted(results.values()) == [1, 2]
    model = RegisteredModel.objects.get(project=project, name="resnet")
    assert model.last_version == 2
    assert sorted(model.versions.values_list("number", flat=True)) == [1, 2]
    assert AuditEvent.objects.filter(action="model.create").count() == 1
    assert AuditEvent.objects.filter(action="model.version_create").count() == 2


def test_two_alias_moves_leave_one_target_and_a_chained_audit_trail(project, member, run):
    register(as_user(member), project, run)
    register(as_user(member), project, run)
    model = RegisteredModel.objects.get(project=project, name="resnet")
    results: dict[str, object] = {}

    def mover(number: int):
        def work():
            fresh = RegisteredModel.objects.get(pk=model.pk)
            return move(as_user(member), fresh, "champion", number)

        return work

    with psycopg.connect(pg_test_dsn(), autocommit=False) as blocker:
        # Hold the model's row so both moves stop at its lock, both having found no
        # alias row yet.
        blocker.execute(
            "SELECT 1 FROM registry_registeredmodel WHERE id = %s FOR UPDATE", (model.pk,)
        )
        threads = [_in_thread("to1", mover(1), results), _in_thread("to2", mover(2), results)]
        wait_for(lambda: waiting_backends(blocker) == 2, "both moves to block")
        blocker.rollback()
    for thread in threads:
        thread.join()

    assert not [r for r in results.values() if isinstance(r, Exception)], results
    first, second = AuditEvent.objects.filter(action="model.alias_move").order_by("id")
    assert first.metadata["before"] is None
    assert {first.metadata["after"], second.metadata["after"]} == {1, 2}
    assert second.metadata["before"] == first.metadata["after"]
    assert alias_target(model, "champion") == second.metadata["after"]


def test_a_run_deleted_while_it_is_registered_is_refused_one_or_the_other(
    project, member, admin, run
):
    model = RegisteredModel.objects.create(project=project, name="resnet")
    results: dict[str, object] = {}

    def delete() -> bool:
        try:
            run_delete(principal=as_user(admin), run=Run.objects.get(pk=run.pk))
        except Conflict:
            return False
        return True

    with psycopg.connect(pg_test_dsn(), autocommit=False) as blocker:
        # The registration has found the run alive and waits for the model's lock;
        # the run is deleted meanwhile (the delete waits for the registration).
        blocker.execute(
            "SELECT 1 FROM registry_registeredmodel WHERE id = %s FOR UPDATE", (model.pk,)
        )
        registering = _register_in_thread("register", member, project, run, results)
        wait_for(lambda: waiting_backends(blocker) == 1, "the registration to block")
        deleting = _in_thread("delete", delete, results)
        wait_for(lambda: waiting_backends(blocker) == 2, "the delete to block")
        blocker.rollback()
    registering.join()
    deleting.join()

    deleted = results["delete"] is True
    registered = not isinstance(results["register"], Exception)
    # Never both: a live model's version must not come from a deleted run (which
    # run_purge_deleted would later remove, and the version with it).
    assert (deleted, registered) != (True, True)
    assert Run.objects.get(pk=run.pk).deleted_at is None or not ModelVersion.objects.exists()
