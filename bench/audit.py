"""The audit log at 1,000,000 events: filtered pages, first and deep, and full exports.

Recreates ``--database-url`` (PostgreSQL), migrates it with the audit app held back at
0002, seeds ``--events`` events into one project (and one in eleven into a second
project, interleaved, so the project filter matters) with a single INSERT … SELECT
generate_series, then times migration 0003 (the filter indexes) and ANALYZEs.

Then, in-process through Django's test client signed in as the project's admin (no
HTTP server: the time is Django's and the database's), for each filter below: the API's
first page (``GET /api/v1/projects/bench/audit?page_size=100``) and a deep page (the
cursor of an event with 90% of the project's log newer than it), ``--repeat`` times
each after 3 untimed, plus EXPLAIN ANALYZE of the deep page's query; the portal page
(50 rows) first and deep for a few; and each export (CSV, JSON lines) of the whole log
once, with its time, size and the process's peak memory growth.

    .venv/bin/python -m bench.audit
    .venv/bin/python -m bench.audit --events 100000 --repeat 5    # smoke
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.common import add_output_arguments, emit, env_int, note
from bench.django_pages import recreate_database, setup_django, timed

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/kiroku_audit_bench"
SPACING_S = 30  # seconds between consecutive events: 1,000,000 span ~347 days
NOISE_EVERY = 11  # one event in eleven belongs to the other project
USERS = 50
TOKENS = 10
RARE_TOKEN = "nightly (krk_n1ghtly0…)"
RARE_EVERY = 20_011  # the rare token acts once in this many events (~50 in a million)
# A user who did one event in five in the oldest tenth of the log, then left: 2% of the
# log, all of it a year old (what the planner's row estimates cannot see).
DEPARTED = "departed_user"

# (bucket upper bound out of 1000, action): the share of each action in the log.
ACTIONS = [
    (150, "run.create"),
    (450, "run.update"),
    (600, "run.finish"),
    (620, "run.crash"),
    (640, "run.delete"),
    (650, "run.restore"),
    (800, "artifact.complete"),
    (900, "artifact.download"),
    (950, "artifact.create"),
    (970, "token.create"),
    (990, "settings.update"),
    (999, "member.role_change"),
    (1000, "member.add"),
]

SEED_SQL = """
INSERT INTO audit_auditevent (
    created_at, actor_type, actor_id, actor_label, actor_user_id, actor_user_label,
    action, project_id, project_label, target_type, target_id, target_label,
    ip, user_agent, metadata)
SELECT
    %(start)s::timestamptz + g * make_interval(secs => %(spacing)s),
    a.actor_type, a.actor_id, a.actor_label, a.user_id, a.user_label,
    k.action,
    CASE WHEN g %% %(noise_every)s = 0 THEN %(noise)s ELSE %(project)s END,
    CASE WHEN g %% %(noise_every)s = 0 THEN 'noise' ELSE 'bench' END,
    t.target_type, t.target_id, t.target_label,
    ('10.0.' || (g %% 250) || '.' || (g %% 7 + 1))::inet,
    CASE WHEN g %% 3 = 0 THEN 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0'
         ELSE 'kiroku-sdk/1.0 python/3.11.7' END,
    '{}'::jsonb
FROM generate_series(1, %(total)s) AS g
CROSS JOIN LATERAL (SELECT CASE {action_case} END AS action) AS k
CROSS JOIN LATERAL (
    SELECT
        CASE WHEN g < %(departed_until)s AND g %% 5 = 1 THEN -1
             ELSE (g::bigint * 7919) %% (%(users)s + %(tokens)s) END AS who,
        (g / 20) AS run_no
) AS n
CROSS JOIN LATERAL (
    SELECT
        CASE WHEN k.action = 'run.crash' THEN 'system'
             WHEN g %% %(rare_every)s = 0 OR n.who >= %(users)s THEN 'token'
             ELSE 'user' END AS actor_type,
        CASE WHEN k.action = 'run.crash' THEN ''
             WHEN g %% %(rare_every)s = 0 THEN '999'
             WHEN n.who >= %(users)s THEN (900 + n.who)::text
             ELSE (1000 + n.who)::text END AS actor_id,
        CASE WHEN k.action = 'run.crash' THEN 'system'
             WHEN g %% %(rare_every)s = 0 THEN %(rare_token)s
             WHEN n.who >= %(users)s
                 THEN 'ci-' || (n.who - %(users)s) || ' (krk_' || left(md5(n.who::text), 8) || '…)'
             WHEN n.who = -1 THEN %(departed)s
             ELSE 'user' || lpad(n.who::text, 2, '0') END AS actor_label,
        CASE WHEN k.action = 'run.crash' THEN ''
             ELSE (1000 + n.who %% %(users)s)::text END AS user_id,
        CASE WHEN k.action = 'run.crash' THEN ''
             WHEN n.who = -1 THEN %(departed)s
             ELSE 'user' || lpad((n.who %% %(users)s)::text, 2, '0') END AS user_label
) AS a
CROSS JOIN LATERAL (
    SELECT
        CASE WHEN k.action LIKE 'run.%%' THEN 'run'
             WHEN k.action LIKE 'artifact.%%' THEN 'artifact'
             WHEN k.action LIKE 'token.%%' THEN 'token'
             WHEN k.action LIKE 'member.%%' THEN 'member'
             ELSE 'project' END AS target_type,
        CASE WHEN k.action LIKE 'run.%%' THEN md5('run' || n.run_no)
             WHEN k.action LIKE 'artifact.%%' THEN g::text
             WHEN k.action LIKE 'token.%%' THEN (g %% 500)::text
             WHEN k.action LIKE 'member.%%' THEN (1000 + g %% 37)::text
             ELSE %(project)s::text END AS target_id,
        CASE WHEN k.action LIKE 'run.%%'
                 THEN 'run-' || n.run_no || ' (' || left(md5('run' || n.run_no), 8) || ')'
             WHEN k.action LIKE 'artifact.%%' THEN 'checkpoints/model-' || g || '.pt'
             WHEN k.action LIKE 'token.%%' THEN 'token-' || (g %% 500)
             WHEN k.action LIKE 'member.%%' THEN 'member' || (g %% 37)
             ELSE 'bench' END AS target_label
) AS t
"""


def seed_sql() -> str:
    cases = " ".join(f"WHEN g %% 1000 < {bound} THEN '{action}'" for bound, action in ACTIONS)
    return SEED_SQL.replace("{action_case}", cases)


def plan_summary(plan: str) -> dict[str, Any]:
    """The index names, node kinds, rows read and execution time of an EXPLAIN ANALYZE."""
    indexes = sorted(set(re.findall(r"(?:Index|Index Only) Scan(?: Backward)? using (\w+)", plan)))
    indexes += sorted(set(re.findall(r"Bitmap Index Scan on (\w+)", plan)))
    nodes = re.findall(r"(?:->  |^)([A-Z][A-Za-z ]+?)(?: using| on|  \()", plan, re.M)
    execution = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return {
        "indexes": indexes,
        "nodes": list(dict.fromkeys(node.strip() for node in nodes)),
        "seq_scan": "Seq Scan" in plan,
        "sort": bool(re.search(r"\bSort\b", plan)),
        "explain_ms": float(execution.group(1)) if execution else None,
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(*, events: int, repeat: int, exports: bool, out: Path | None) -> None:
    from django.contrib.auth import get_user_model
    from django.core.exceptions import EmptyResultSet
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from apps.audit.models import AuditEvent
    from apps.audit.selectors import audit_list_for_project
    from apps.core.cursors import cursor_encode
    from apps.core.times import time_clean
    from apps.projects.models import Membership, Project, Role

    note("migrating (audit held at 0002)")
    call_command("migrate", verbosity=0)
    call_command("migrate", "audit", "0002", verbosity=0)
    admin = get_user_model().objects.create(username="bench_admin")
    project = Project.objects.create(slug="bench", name="Bench")
    noise = Project.objects.create(slug="noise", name="Noise")
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    Membership.objects.create(project=noise, user=admin, role=Role.ADMIN)

    total = events * NOISE_EVERY // (NOISE_EVERY - 1)
    now = timezone.now()
    start = now - timedelta(seconds=SPACING_S * total)
    note(f"seeding {events:,} events (+{total - events:,} in another project)")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            seed_sql(),
            {
                "start": start,
                "spacing": SPACING_S,
                "total": total,
                "noise_every": NOISE_EVERY,
                "project": project.pk,
                "noise": noise.pk,
                "users": USERS,
                "tokens": TOKENS,
                "rare_every": RARE_EVERY,
                "rare_token": RARE_TOKEN,
                "departed": DEPARTED,
                "departed_until": total // 10,
            },
        )
    seeded = time.perf_counter() - started
    note("migrating audit to the latest (the filter indexes)")
    started = time.perf_counter()
    call_command("migrate", "audit", verbosity=0)
    indexed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE audit_auditevent")
        cursor.execute("SELECT pg_total_relation_size('audit_auditevent')")
        size = cursor.fetchone()[0]
    pg = connection.cursor().connection.info.server_version
    ids = AuditEvent.objects.filter(project_id=project.pk).order_by("pk")
    count = ids.count()
    assert count == events, (count, events)
    # The deep page starts below the event with 90% of the project's log newer than it.
    cut = ids.values_list("pk", flat=True)[events // 10]
    emit(
        {
            "bench": "audit_seed",
            "events": count,
            "all_events": total,
            "seed_s": round(seeded, 2),
            "index_migration_s": round(indexed, 2),
            "table_mb": round(size / 2**20),
            "postgres": f"{pg // 10000}.{pg % 10000}",
            "cpus": os.cpu_count(),
        },
        out,
    )

    # A run whose events sit just below the cut: the deep page of its own history.
    run_id = (
        AuditEvent.objects.filter(project_id=project.pk, target_type="run", pk__lt=cut)
        .order_by("-pk")
        .values_list("target_id", flat=True)[0]
    )
    day = timedelta(days=1)
    deep_time = start + timedelta(seconds=SPACING_S * total // 10)
    window = {
        "since": (deep_time - 15 * day).isoformat(),
        "until": (deep_time + 15 * day).isoformat(),
    }
    # The other project's log: a tenth of the table, its events among the big one's.
    noise_ids = AuditEvent.objects.filter(project_id=noise.pk).order_by("pk")
    cuts = {"bench": cut, "noise": noise_ids.values_list("pk", flat=True)[noise_ids.count() // 10]}
    projects = {"bench": project, "noise": noise}
    filters: list[tuple[str, dict[str, str]]] = [
        ("none", {}),
        ("small_project_none", {}),
        ("action_common", {"action": "run.update"}),
        ("action_rare", {"action": "member.add"}),
        ("prefix_common", {"action": "run.*"}),
        ("prefix_rare", {"action": "member.*"}),
        ("actor_user", {"actor": "user07"}),
        ("actor_token", {"actor": f"ci-3 (krk_{_md5(USERS + 3)[:8]}…)"}),
        ("actor_rare_token", {"actor": RARE_TOKEN}),
        ("actor_departed", {"actor": DEPARTED}),
        ("actor_departed_until", {"actor": DEPARTED, "until": deep_time.isoformat()}),
        ("target_run", {"target_type": "run", "target_id": run_id}),
        ("target_id_only", {"target_id": run_id}),
        ("target_type_rare", {"target_type": "project"}),
        ("time_window_30d", window),
        ("since_7d", {"since": (now - 7 * day).isoformat()}),
        ("action_and_actor", {"action": "artifact.download", "actor": "user07"}),
    ]

    client = Client()
    client.force_login(admin)

    def api_check(response):
        assert response.status_code == 200, (response.status_code, response.content[:300])

    for name, params in filters:
        note(f"timing {name}")
        slug = "noise" if name.startswith("small_project") else "bench"
        record: dict[str, Any] = {"bench": "audit_page", "filter": name, "params": params}
        record["project"] = slug
        api = f"/api/v1/projects/{slug}/audit"
        first = f"{api}?{urlencode({**params, 'page_size': 100})}"
        cursor = cursor_encode({"audit_before": cuts[slug]})
        deep = f"{api}?{urlencode({**params, 'page_size': 100, 'cursor': cursor})}"
        record["first_rows"] = len(client.get(first).json()["results"])
        record["deep_rows"] = len(client.get(deep).json()["results"])
        record["first"] = timed(client, first, repeat, api_check)
        record["deep"] = timed(client, deep, repeat, api_check)
        for depth, before in (("first", None), ("deep", cuts[slug])):
            queryset = audit_list_for_project(
                project=projects[slug],
                action=params.get("action"),
                actor=params.get("actor"),
                target_type=params.get("target_type"),
                target_id=params.get("target_id"),
                since=time_clean(params.get("since"), field="since"),
                until=time_clean(params.get("until"), field="until"),
                before_id=before,
            )[:101]
            try:
                plan = queryset.explain(analyze=True, buffers=True)
            except EmptyResultSet:  # a probe showed nothing can match: no query at all
                plan = "(no query: nothing can match)"
            record[f"{depth}_plan"] = plan_summary(plan)
            record[f"{depth}_plan_text"] = plan
        emit(record, out)

    def portal_check(response):
        assert response.status_code == 200, response.status_code
        assert response.content.count(b"<tr data-event=") == 50

    for name, params in [("none", {}), ("prefix_common", {"action": "run.*"})]:
        for depth, extra in [("first", {}), ("deep", {"before": str(cut)})]:
            url = f"/projects/bench/audit?{urlencode({**params, **extra})}"
            note(f"timing the portal page, {name} {depth}")
            record = {"bench": "audit_portal", "filter": name, "depth": depth, "url": url}
            record.update(timed(client, url, repeat, portal_check))
            emit(record, out)

    for kind in ("csv", "jsonl") if exports else ():
        note(f"exporting the whole log as {kind}")
        before = peak_rss_mb()
        started = time.perf_counter()
        response = client.get(f"/api/v1/projects/bench/audit/export?format={kind}")
        size = lines = 0
        for chunk in response.streaming_content:
            size += len(chunk)
            lines += chunk.count(b"\n")
        elapsed = time.perf_counter() - started
        expected = events + 1 if kind == "csv" else events
        assert lines == expected, (kind, lines, expected)
        emit(
            {
                "bench": "audit_export",
                "format": kind,
                "events": events,
                "seconds": round(elapsed, 2),
                "events_per_second": round(events / elapsed),
                "mb": round(size / 2**20, 1),
                "peak_rss_before_mb": round(before, 1),
                "peak_rss_growth_mb": round(peak_rss_mb() - before, 1),
            },
            out,
        )


def _md5(number: int) -> str:
    import hashlib

    return hashlib.md5(str(number).encode()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_AUDIT_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="dropped and recreated (BENCH_AUDIT_DATABASE_URL; default %(default)s)",
    )
    parser.add_argument("--events", type=int, default=env_int("BENCH_AUDIT_EVENTS", 1_000_000))
    parser.add_argument("--repeat", type=int, default=env_int("BENCH_REPEAT", 20))
    parser.add_argument("--no-export", action="store_true", help="skip the full exports")
    add_output_arguments(parser)
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be a PostgreSQL URL")
    recreate_database(args.database_url)
    setup_django(args.database_url)
    measure(events=args.events, repeat=args.repeat, exports=not args.no_export, out=args.out)


if __name__ == "__main__":
    main()
