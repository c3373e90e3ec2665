"""The audit log's filters, keyset pages and exports: each filter keeps exactly its
events, pages never repeat or skip an event while the log grows, and the exports hold
exactly the events the JSON list shows."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit import selectors
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_list_for_project
from tests.audit.logs import T0, Log

URL = "/api/v1/projects/vision/audit"
EXPORT = "/api/v1/projects/vision/audit/export"


@pytest.fixture
def log(project) -> Log:
    return Log(project)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [event["id"] for event in response.json()["results"]]


def newest_first(*events: AuditEvent) -> list[int]:
    return sorted((event.pk for event in events), reverse=True)


# ---- each filter -------------------------------------------------------------------


@pytest.mark.django_db
def test_action_exact(as_admin, log):
    delete = log.add("run.delete")
    log.add("run.create")
    later = log.add("run.delete")
    log.add("member.add")
    assert ids(as_admin.get(URL, {"action": "run.delete"})) == newest_first(delete, later)


@pytest.mark.parametrize("prefix", ["run.*", "run."])
@pytest.mark.django_db
def test_action_prefix(as_admin, log, prefix):
    wanted = [log.add("run.create"), log.add("run.finish"), log.add("run.delete")]
    log.add("artifact.download")
    log.add("member.add")
    assert ids(as_admin.get(URL, {"action": prefix})) == newest_first(*wanted)


@pytest.mark.parametrize("action", ["run.explode", "nothing.*", "run"])
@pytest.mark.django_db
def test_unknown_action_or_prefix_is_400(as_admin, log, action):
    response = as_admin.get(URL, {"action": action})
    assert (response.status_code, response.json()["error"]["field"]) == (400, "action")


@pytest.mark.django_db
def test_actor_username_matches_the_user_and_their_tokens(as_admin, log):
    own = log.add(user="bob_member")
    by_token = log.add(user="bob_member", token="ci (krk_abcdefgh…)")
    log.add(user="alice_admin")
    log.add(user="alice_admin", token="nightly (krk_12345678…)")
    log.add(user="system")
    assert ids(as_admin.get(URL, {"actor": "bob_member"})) == newest_first(own, by_token)


@pytest.mark.django_db
def test_actor_token_label_matches_that_token_only(as_admin, log):
    log.add(user="bob_member")
    token = log.add(user="bob_member", token="ci (krk_abcdefgh…)")
    log.add(user="bob_member", token="other (krk_zzzzzzzz…)")
    response = as_admin.get(URL, {"actor": "ci (krk_abcdefgh…)"})
    assert ids(response) == [token.pk]


@pytest.mark.django_db
def test_actor_system_and_unknown(as_admin, log):
    crash = log.add("run.crash", user="system")
    log.add(user="alice_admin")
    assert ids(as_admin.get(URL, {"actor": "system"})) == [crash.pk]
    assert ids(as_admin.get(URL, {"actor": "nobody"})) == []


@pytest.mark.django_db
def test_target_type_and_id(as_admin, log):
    first = log.add("run.create", target=("run", "abc", "resnet (abc)"))
    log.add("run.create", target=("run", "xyz", "vit (xyz)"))
    log.add("artifact.download", target=("artifact", "abc", "model.pt"))
    second = log.add("run.finish", target=("run", "abc", "resnet (abc)"))
    response = as_admin.get(URL, {"target_type": "run", "target_id": "abc"})
    assert ids(response) == newest_first(first, second)


@pytest.mark.django_db
def test_target_id_alone_matches_every_type(as_admin, log, other_project):
    run = log.add("run.create", target=("run", "7", "run 7"))
    token = log.add("token.create", target=("token", "7", "ci"))
    log.add("token.create", target=("token", "8", "other"))
    log.add("token.create", target=("token", "7", "ci"), project=other_project)
    assert ids(as_admin.get(URL, {"target_id": "7"})) == newest_first(run, token)


@pytest.mark.django_db
def test_target_type_alone(as_admin, log):
    log.add("run.create", target=("run", "1", "a"))
    tokens = [log.add("token.create", target=("token", str(i), "t")) for i in range(2)]
    assert ids(as_admin.get(URL, {"target_type": "token"})) == newest_first(*tokens)
    assert ids(as_admin.get(URL, {"target_type": "comment"})) == []


@pytest.mark.django_db
def test_time_window_since_inclusive_until_exclusive(as_admin, log):
    events = [log.add(at=T0 + timedelta(hours=hour)) for hour in range(5)]
    window = {
        "since": (T0 + timedelta(hours=1)).isoformat(),
        "until": (T0 + timedelta(hours=3)).isoformat(),
    }
    assert ids(as_admin.get(URL, window)) == newest_first(events[1], events[2])
    assert ids(as_admin.get(URL, {"since": window["until"]})) == newest_first(*events[3:])
    assert ids(as_admin.get(URL, {"until": window["since"]})) == [events[0].pk]


@pytest.mark.django_db
def test_time_window_is_exact_when_stamps_are_out_of_id_order(as_admin, log):
    """Two processes may stamp events a moment out of id order; the time filter still
    decides by the stamp alone."""
    far_before = log.add(at=T0 - timedelta(hours=2))
    late_stamp = log.add(at=T0 + timedelta(seconds=2))
    early_stamp = log.add(at=T0)  # a higher id, stamped two seconds earlier
    far_after = log.add(at=T0 + timedelta(hours=2))
    middle = (T0 + timedelta(seconds=1)).isoformat()
    assert ids(as_admin.get(URL, {"since": middle})) == newest_first(far_after, late_stamp)
    assert ids(as_admin.get(URL, {"until": middle})) == newest_first(early_stamp, far_before)
    window = {"since": T0.isoformat(), "until": (T0 + timedelta(seconds=3)).isoformat()}
    assert ids(as_admin.get(URL, window)) == newest_first(late_stamp, early_stamp)


@pytest.mark.django_db
def test_bad_time_is_400(as_admin, log):
    response = as_admin.get(URL, {"since": "yesterday"})
    assert (response.status_code, response.json()["error"]["field"]) == (400, "since")


@pytest.mark.django_db
def test_filters_combine(as_admin, log):
    delete = log.add("run.delete", user="bob_member", target=("run", "abc", "a"))
    log.add("run.delete", user="alice_admin", target=("run", "abc", "a"))
    create = log.add("run.create", user="bob_member", target=("run", "abc", "a"))
    log.add("artifact.download", user="bob_member", target=("run", "abc", "a"))
    log.add("run.delete", user="bob_member", target=("run", "xyz", "x"))
    query = {"action": "run.*", "actor": "bob_member", "target_type": "run", "target_id": "abc"}
    assert ids(as_admin.get(URL, query)) == newest_first(delete, create)
    query["action"] = "run.delete"
    assert ids(as_admin.get(URL, query)) == [delete.pk]
    del query["target_type"]
    assert ids(as_admin.get(URL, query)) == [delete.pk]


@pytest.mark.django_db
def test_another_projects_events_never_show(as_admin, log, other_project):
    mine = log.add("run.create", target=("run", "abc", "a"))
    log.add("run.create", target=("run", "abc", "a"), project=other_project)
    assert ids(as_admin.get(URL)) == [mine.pk]
    assert ids(as_admin.get(URL, {"target_id": "abc"})) == [mine.pk]
    assert ids(as_admin.get(URL, {"actor": "alice_admin"})) == [mine.pk]


@pytest.mark.django_db
def test_an_actor_seen_only_long_ago_is_found_below_newer_events(as_admin, log):
    """The selector starts a filtered page at the filter's newest match (an index
    probe); events of someone who left must still all be found, in order."""
    old = [log.add(user="departed") for _ in range(3)]
    for _ in range(20):
        log.add(user="alice_admin")
    first = as_admin.get(URL, {"actor": "departed", "page_size": 2}).json()
    second = as_admin.get(
        URL, {"actor": "departed", "page_size": 2, "cursor": first["next"]}
    ).json()
    pages = [e["id"] for e in first["results"]], [e["id"] for e in second["results"]]
    assert pages == ([old[2].pk, old[1].pk], [old[0].pk])
    assert second["next"] is None


# ---- keyset pages ------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [{}, {"action": "run.create"}, {"action": "run.*"}, {"actor": "alice_admin"},
     {"target_type": "run", "target_id": "r1"}, {"target_id": "r1"},
     {"since": (T0 - timedelta(days=1)).isoformat()}],
)  # fmt: skip
@pytest.mark.django_db
def test_pages_never_repeat_or_skip_while_events_arrive(as_admin, log, query):
    before = [log.add() for _ in range(7)]
    seen: list[int] = []
    page = as_admin.get(URL, {**query, "page_size": 3}).json()
    seen += [e["id"] for e in page["results"]]
    while page["next"]:
        log.add()  # newer than every page: it belongs to the top, not to older pages
        log.add("member.add", user="someone", target=("member", "9", "x"))
        page = as_admin.get(URL, {**query, "page_size": 3, "cursor": page["next"]}).json()
        seen += [e["id"] for e in page["results"]]
    assert seen == newest_first(*before)


@pytest.mark.django_db
def test_an_empty_filtered_log_has_no_next_page(as_admin, log):
    log.add()
    body = as_admin.get(URL, {"action": "member.*"}).json()
    assert body == {"results": [], "next": None}


@pytest.mark.django_db
def test_the_page_query_neither_counts_nor_offsets(as_admin, log):
    for _ in range(5):
        log.add()
    first = as_admin.get(URL, {"page_size": 2}).json()
    with CaptureQueriesContext(connection) as queries:
        as_admin.get(URL, {"page_size": 2, "cursor": first["next"]})
    audit_sql = [q["sql"] for q in queries if "audit_auditevent" in q["sql"]]
    assert len(audit_sql) == 1
    assert "COUNT(" not in audit_sql[0].upper() and "OFFSET" not in audit_sql[0].upper()
    assert f'"id" < {first["results"][-1]["id"]}' in audit_sql[0]


# ---- exports -----------------------------------------------------------------------


def body(response) -> bytes:
    assert response.status_code == 200
    return b"".join(response.streaming_content)


@pytest.mark.django_db
def test_jsonl_export_is_the_json_list_line_by_line(as_admin, log):
    log.add("run.create", user="bob_member", token="ci (krk_abcdefgh…)", ip="10.0.0.1")
    log.add("run.update", target=("run", "r1", "two\nlines\u2028and a separator"))
    log.add("member.add", target=("member", "3", "carol"), metadata={"role": "viewer"})
    response = as_admin.get(EXPORT, {"format": "jsonl"})
    lines = body(response).decode().split("\n")
    assert lines[-1] == ""  # every line ends with a newline
    # str.splitlines also splits at U+2028: the export escapes it, so still 3 lines.
    assert len("\n".join(lines).splitlines()) == 3
    assert [json.loads(line) for line in lines[:-1]] == as_admin.get(URL).json()["results"]
    assert response["Content-Type"] == "application/jsonl; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="kiroku-audit-vision.jsonl"'


@pytest.mark.django_db
def test_jsonl_export_with_filters(as_admin, log):
    wanted = log.add("run.delete", target=("run", "abc", "a"))
    log.add("run.delete", target=("run", "xyz", "x"))
    log.add("run.create", target=("run", "abc", "a"))
    response = as_admin.get(EXPORT, {"format": "jsonl", "action": "run.delete", "target_id": "abc"})
    assert [json.loads(line)["id"] for line in body(response).splitlines()] == [wanted.pk]


@pytest.mark.django_db
def test_export_reads_in_keyset_chunks_and_leaves_out_later_events(as_admin, log, monkeypatch):
    monkeypatch.setattr(selectors, "EXPORT_CHUNK", 2)
    events = [log.add() for _ in range(5)]
    response = as_admin.get(EXPORT, {"format": "jsonl"})
    chunks = iter(response.streaming_content)
    with CaptureQueriesContext(connection) as queries:
        lines = next(chunks).splitlines()
        log.add()  # written while the export runs: newer than its first chunk
        lines += [line for chunk in chunks for line in chunk.splitlines()]
    assert [json.loads(line)["id"] for line in lines] == newest_first(*events)
    reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    assert len(reads) == 3  # 2 + 2 + 1
    assert all("LIMIT 2" in sql for sql in reads)


@pytest.mark.django_db
def test_csv_export_with_target_filters(as_admin, log):
    wanted = log.add("run.finish", target=("run", "abc", "resnet (abc)"))
    log.add("run.finish", target=("run", "xyz", "vit (xyz)"))
    response = as_admin.get(EXPORT, {"target_type": "run", "target_id": "abc"})
    rows = list(csv.reader(io.StringIO(body(response).decode())))
    assert [row[0] for row in rows[1:]] == [str(wanted.pk)]
    assert rows[1][6:9] == ["run", "abc", "resnet (abc)"]
    assert response["Content-Disposition"] == 'attachment; filename="kiroku-audit-vision.csv"'


@pytest.mark.django_db
def test_csv_export_neutralises_formulas_in_every_text_column(as_admin, log):
    log.add(
        "run.update",
        user="@bob",
        target=("run", "-1", "=cmd|' /C calc'!A0"),
        user_agent="+SUM(A1)",
    )
    response = as_admin.get(EXPORT, {"format": "csv", "target_id": "-1"})
    [row] = list(csv.reader(io.StringIO(body(response).decode())))[1:]
    assert (row[4], row[7], row[8], row[10]) == (
        "'@bob",
        "'-1",
        "'=cmd|' /C calc'!A0",
        "'+SUM(A1)",
    )


@pytest.mark.django_db
def test_export_format_is_checked(as_admin, log):
    response = as_admin.get(EXPORT, {"format": "xlsx"})
    assert (response.status_code, response.json()["error"]["field"]) == (400, "format")


@pytest.mark.django_db
def test_export_filter_error_is_400_before_streaming(as_admin, log):
    response = as_admin.get(EXPORT, {"format": "jsonl", "action": "run.explode"})
    assert (response.status_code, response.json()["error"]["field"]) == (400, "action")


@pytest.mark.parametrize(
    ("who", "status"), [("as_member", 403), ("as_viewer", 403), ("as_outsider", 404)]
)
@pytest.mark.django_db
def test_only_admins_export_jsonl(request, log, who, status):
    log.add()
    client = request.getfixturevalue(who)
    assert client.get(EXPORT, {"format": "jsonl"}).status_code == status


@pytest.mark.django_db
def test_the_portal_session_reads_the_export(portal_client, log):
    event = log.add()
    response = portal_client.get(EXPORT, {"format": "jsonl"})
    assert [json.loads(line)["id"] for line in body(response).splitlines()] == [event.pk]


@pytest.fixture
def portal_client(admin, project):
    from django.test import Client

    client = Client()
    client.force_login(admin)
    return client


# ---- the selector directly ---------------------------------------------------------


@pytest.mark.django_db
def test_selector_before_id_is_exclusive(log, project):
    events = [log.add() for _ in range(3)]
    found = audit_list_for_project(project=project, before_id=events[2].pk)
    assert [e.pk for e in found] == newest_first(events[0], events[1])


# ---- settings.update ---------------------------------------------------------------


@pytest.mark.django_db
def test_renaming_a_project_records_settings_update_once(as_admin, project):
    response = as_admin.patch("/api/v1/projects/vision", {"name": "Vision 2"})
    assert response.status_code == 200
    [event] = AuditEvent.objects.filter(project_id=project.pk)
    assert (event.action, event.actor_user_label, event.target_type, event.target_label) == (
        "settings.update",
        "alice_admin",
        "project",
        "vision",
    )
    assert event.metadata == {"before": {"name": "Vision"}, "after": {"name": "Vision 2"}}


@pytest.mark.django_db
def test_an_unchanged_project_records_nothing(as_admin, project):
    as_admin.patch("/api/v1/projects/vision", {"name": "Vision"})
    assert AuditEvent.objects.filter(project_id=project.pk).count() == 0


# ---- PostgreSQL: a filtered page reads only its own rows ---------------------------

SEED = """
INSERT INTO audit_auditevent (created_at, actor_type, actor_id, actor_label, actor_user_id,
    actor_user_label, action, project_id, project_label, target_type, target_id,
    target_label, user_agent, metadata)
SELECT %(start)s::timestamptz + g * interval '1 minute', 'user', '', a.name, '', a.name,
    CASE WHEN g %% 100 = 0 THEN 'member.add' WHEN g %% 3 = 0 THEN 'run.create'
         ELSE 'run.update' END,
    %(project)s, 'vision', 'run', md5((g / 20)::text), 'run', '', '{}'::jsonb
FROM generate_series(1, %(total)s) AS g
CROSS JOIN LATERAL (SELECT CASE WHEN g < %(total)s / 10 AND g %% 4 = 0 THEN 'departed'
                                ELSE 'user' || (g %% 20) END AS name) AS a
"""


def rows_read(plan: dict) -> int:
    """Rows every node of an EXPLAIN ANALYZE (JSON) produced or threw away, all loops."""
    own = (plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)) * plan.get(
        "Actual Loops", 1
    )
    return own + sum(rows_read(child) for child in plan.get("Plans", []))


@pytest.mark.postgres
def test_a_filtered_page_reads_only_its_own_rows(project):
    total = 60_000
    with connection.cursor() as cursor:
        cursor.execute(SEED, {"start": T0, "project": project.pk, "total": total})
        cursor.execute("ANALYZE audit_auditevent")
    deep = AuditEvent.objects.filter(project_id=project.pk).order_by("pk")[total // 10].pk
    run = AuditEvent.objects.get(pk=deep).target_id
    cases = [
        {},
        {"action": "run.update"},
        {"action": "member.add"},
        {"action": "run.*"},
        {"actor": "user7"},
        {"actor": "departed"},  # only in the oldest tenth: found by its index, not a scan
        {"target_type": "run", "target_id": run},
        {"target_id": run},
        {"since": T0 + timedelta(minutes=1000), "until": T0 + timedelta(minutes=8000)},
    ]
    for filters in cases:
        for before in (None, deep):
            page = audit_list_for_project(project=project, before_id=before, **filters)[:101]
            [explained] = json.loads(page.explain(format="json", analyze=True))
            read = rows_read(explained["Plan"])
            assert read < 5_000, (filters, before, read, explained)
