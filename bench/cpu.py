"""CPU time spent on a measurement, by whom: the server, its PostgreSQL backends, us.

Wall-clock figures on a shared two-core machine move with whatever else runs; the CPU
seconds a system spends per point move much less. A ``CpuMeter`` reads ``/proc`` before
and after a measurement for

* the server: every process in its session (``run_all.sh`` starts each server with
  ``setsid``, so its workers, and MLflow's job consumers, share the server's session);
* its database backends: the PostgreSQL processes connected to its database
  (``pg_stat_activity``), this meter's own connection left out;
* the client: this process, all threads (``getrusage``).

A process that ends during the measurement takes its CPU time with it (not counted);
the servers keep their processes and database connections, so that does not arise here.
PostgreSQL's background processes (WAL writer, checkpointer, autovacuum) are not counted.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(session id, user+system CPU seconds) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces): state is field 3, the
    # session field 6, utime and stime fields 14 and 15.
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[3]), (int(fields[11]) + int(fields[12])) / _TICK


def _session_cpu(session: int) -> dict[int, float]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[0] == session:
                found[int(entry.name)] = stat[1]
    return found


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuUse:
    server_s: float | None
    db_s: float | None
    client_s: float

    def system_s(self, *, client_is_system: bool) -> float | None:
        """What the system under test spent: server and database, or, for raw SQL, where
        this process does the server's part, this process and the database."""
        if self.db_s is None:
            return None
        if client_is_system:
            return self.client_s + self.db_s
        return None if self.server_s is None else self.server_s + self.db_s

    def fields(self) -> dict[str, float | None]:
        return {
            "server_cpu_s": None if self.server_s is None else round(self.server_s, 2),
            "db_cpu_s": None if self.db_s is None else round(self.db_s, 2),
            "client_cpu_s": round(self.client_s, 2),
        }


class CpuMeter:
    def __init__(self, *, server_session: int | None, database_url: str | None) -> None:
        self.server_session = server_session
        self.database_url = database_url
        self.database = urlsplit(database_url).path.lstrip("/") if database_url else None
        self._conn: psycopg.Connection | None = None

    def _backends_cpu(self) -> dict[int, float] | None:
        if self.database_url is None:
            return None
        if self._conn is None:
            self._conn = psycopg.connect(self.database_url, autocommit=True)
        rows = self._conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [self.database],
        ).fetchall()
        found = {}
        for (pid,) in rows:
            stat = _stat(pid)
            if stat is not None:
                found[pid] = stat[1]
        return found

    def _snapshot(self) -> tuple[dict[int, float] | None, dict[int, float] | None, float]:
        server = _session_cpu(self.server_session) if self.server_session else None
        return server, self._backends_cpu(), _self_cpu()

    def start(self) -> None:
        self._before = self._snapshot()

    def stop(self) -> CpuUse:
        after = self._snapshot()
        server_before, db_before, client_before = self._before

        def spent(before: dict[int, float] | None, now: dict[int, float] | None) -> float | None:
            if before is None or now is None:
                return None
            # A process that appeared meanwhile spent all its CPU time in the window.
            return sum(cpu - before.get(pid, 0.0) for pid, cpu in now.items())

        return CpuUse(
            server_s=spent(server_before, after[0]),
            db_s=spent(db_before, after[1]),
            client_s=after[2] - client_before,
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
