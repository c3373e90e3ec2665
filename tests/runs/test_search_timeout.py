"""On PostgreSQL a run search runs under a statement timeout (KIROKU_SEARCH_TIMEOUT_MS)
set in its own transaction; a search stopped by it is a 400 search_timeout naming the
filter, in the API and on the portal's runs table."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.test.utils import CaptureQueriesContext

from apps.runs import selectors
from apps.runs.models import Run
from apps.runs.search import SearchTimeout, runs_search
from apps.runs.search.timeout import search_timeout

pytestmark = pytest.mark.postgres

STOPPED = {
    "error": {
        "code": "search_timeout",
        "message": "the search took longer than 0.05 s and was stopped; narrow the filter "
        "(fewer conditions on metrics, params or tags, or on fewer runs) or sort by fewer keys",
        "field": "filter",
    }
}


def statement_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


def test_the_search_sets_the_timeout_in_its_own_transaction_and_ends_it(project, make_run):
    make_run(name="resnet")
    before = statement_timeout()
    with CaptureQueriesContext(connection) as captured:
        page, _ = runs_search(
            queryset=Run.objects.filter(project=project), filter="name = 'resnet'"
        )
    sql = [query["sql"] for query in captured.captured_queries]
    assert [r.name for r in page] == ["resnet"]
    assert sql[:2] == ["BEGIN", "SET LOCAL statement_timeout = 10000"]
    assert sql[2].startswith('SELECT "runs_run"."id"')
    # Rolled back (it only read): the SET LOCAL ends with the transaction.
    assert sql[3:] == ["ROLLBACK"]
    assert statement_timeout() == before


def test_inside_a_transaction_the_search_takes_a_savepoint_and_rolls_it_back(project, make_run):
    make_run(name="resnet")
    before = statement_timeout()
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        runs_search(queryset=Run.objects.filter(project=project))
        inside = statement_timeout()
    sql = [query["sql"] for query in captured.captured_queries]
    assert sql[0].startswith("SAVEPOINT")
    assert sql[1] == "SET LOCAL statement_timeout = 10000"
    assert sql[3].startswith("ROLLBACK TO SAVEPOINT")
    assert inside == before


def test_a_statement_past_the_timeout_raises_search_timeout(db):
    before = statement_timeout()
    with pytest.raises(SearchTimeout) as stopped, search_timeout(50), connection.cursor() as cur:
        cur.execute("SELECT pg_sleep(5)")
    assert (stopped.value.code, stopped.value.field, stopped.value.status) == (
        "search_timeout",
        "filter",
        400,
    )
    # The connection goes on, without the timeout.
    assert statement_timeout() == before


def test_a_statement_within_the_timeout_runs(db):
    with search_timeout(5000), connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(0.01), 1")
        assert cursor.fetchone()[1] == 1


def test_zero_turns_the_timeout_off(db):
    with CaptureQueriesContext(connection) as captured, search_timeout(0):
        pass
    assert captured.captured_queries == []


@pytest.fixture
def slow_listing(monkeypatch, settings):
    """Every run listed for a search takes half a second to read, against a 50 ms
    timeout: the real statement is stopped by the real timeout."""
    settings.KIROKU_SEARCH_TIMEOUT_MS = 50
    listed = selectors.run_list_for_project

    def slow(*, project):
        return listed(project=project).annotate(nap=RawSQL("pg_sleep(0.5)", []))

    monkeypatch.setattr(selectors, "run_list_for_project", slow)


def test_a_stopped_api_search_is_400_search_timeout(as_member, make_run, slow_listing):
    make_run(name="resnet")
    response = as_member.get("/api/v1/projects/vision/runs", {"filter": "name = 'resnet'"})
    assert (response.status_code, response.json()) == (400, STOPPED)


def test_a_stopped_portal_search_shows_why(client, member, make_run, slow_listing):
    make_run(name="resnet")
    client.force_login(member)
    response = client.get("/projects/vision", {"filter": "name = 'resnet'"})
    assert response.status_code == 400
    assert STOPPED["error"]["message"] in response.content.decode()
