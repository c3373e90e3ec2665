"""A private PostgreSQL cluster for one benchmark: ``initdb`` in a scratch folder,
served on a random loopback port, never the machine's shared server.

``PgCluster(root).init().start()``; ``url("kiroku")`` names a database in it;
``restart()`` is ``pg_ctl restart -m fast`` (committed data survives: fsync and
synchronous_commit keep their defaults, on); ``stop()`` when done. As root, the
PostgreSQL programs run as the ``postgres`` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

SHARED_PORT = 5432


def _free_port() -> int:
    """A loopback port nothing listens on now, never the shared server's."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port != SHARED_PORT:
            return port


class PgCluster:
    """One ``initdb`` cluster under ``root/pg``, trust authentication for user
    ``postgres`` over loopback TCP and a private socket folder."""

    def __init__(self, root: Path, *, max_connections: int = 200) -> None:
        self.root = root / "pg"
        self.data = self.root / "data"
        self.sockets = self.root / "sock"
        self.log = self.root / "postgres.log"
        self.port = _free_port()
        self.max_connections = max_connections
        # PostgreSQL's programs refuse root; as root they run as the postgres user.
        self._as: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise SystemExit("running as root needs runuser to start PostgreSQL as postgres")
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, argv: list[str], *, timeout: float = 120) -> None:
        done = subprocess.run(
            [*self._as, *argv], capture_output=True, text=True, timeout=timeout, cwd=self.root
        )
        if done.returncode:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise SystemExit(
                f"{' '.join(argv[:2])} failed ({done.returncode}): "
                f"{done.stderr.strip()[-1500:]}\n{tail}"
            )

    def _options(self) -> str:
        return (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
            f"-c max_connections={self.max_connections}"
        )

    def _pg_ctl(self) -> list[str]:
        return ["pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60"]

    def init(self) -> PgCluster:
        """``initdb`` (UTF-8, user postgres, trust) into a new folder."""
        self.sockets.mkdir(parents=True)
        if self._as:
            entry = pwd.getpwnam("postgres")
            # postgres only needs to pass through the scratch folder (mkdtemp's 700).
            self.root.parent.chmod(0o711)
            for path in (self.root, self.sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run(
            [
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-instructions",
            ]
        )
        return self

    def start(self) -> PgCluster:
        """Start the server and wait until it accepts connections."""
        if self.port == SHARED_PORT:  # belt and braces: never the shared server
            raise SystemExit("refusing to serve a private cluster on 5432")
        self._run([*self._pg_ctl(), "-o", self._options(), "start"])
        return self

    def restart(self, outage: float = 0.0) -> dict[str, float]:
        """A fast restart: every session is ended and in-flight transactions roll back;
        committed ones stay. ``pg_ctl restart -m fast``, or with ``outage`` seconds,
        ``pg_ctl stop -m fast``, that long down, then ``pg_ctl start``. Returns the
        seconds it took to stop, and from the stop until it accepted connections."""
        began = time.perf_counter()
        if outage <= 0:
            self._run([*self._pg_ctl(), "-m", "fast", "-o", self._options(), "restart"])
            return {"down_s": round(time.perf_counter() - began, 3)}
        self._run([*self._pg_ctl(), "-m", "fast", "stop"])
        stopped = time.perf_counter()
        time.sleep(outage)
        self._run([*self._pg_ctl(), "-o", self._options(), "start"])
        return {
            "stop_s": round(stopped - began, 3),
            "down_s": round(time.perf_counter() - began, 3),
        }

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(["pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop"])

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def version(self) -> str:
        done = subprocess.run(["postgres", "--version"], capture_output=True, text=True)
        return done.stdout.strip()
