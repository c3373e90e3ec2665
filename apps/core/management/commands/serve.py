"""``manage.py serve [addr:port] [--ensure-admin]``: the development server plus, when
no broker is configured, the in-process scheduler for periodic jobs. What ``make run``
starts (``make run PORT=8001 HOST=0.0.0.0`` picks the address).

- The address is tried before anything else: a port that is taken (or an address
  that is not this machine's) stops it with a message naming ``PORT=`` / ``HOST=``,
  and exit status 1.
- ``--ensure-admin`` creates the local admin once the server is bound and prints its
  password in a framed block as the last lines of the setup, right before Django's
  "Starting development server" (on later starts, one line saying the admin exists
  and how to get a new password).
- Without ``KIROKU_BASE_URL`` in the environment, links in API answers and messages
  use the address served, so ``make run PORT=8001`` links to port 8001.
- The server's request lines (logger ``django.server``) name secret URL parts
  instead of printing them, as the access log does (``ServerLogMaskFilter`` in
  config/log_config.py's LOGGING); the periodic jobs' success lines are left out.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import socket
import sys
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.management.commands.runserver import naiveip_re
from django.db import connection
from django.shortcuts import resolve_url

from apps.core.admin_account import AdminAccountError, admin_ensure, admin_notice
from apps.core.scheduler import InProcessScheduler

DEFAULT_HOST = "127.0.0.1"
SCHEDULER_THREAD = "kiroku-scheduler"


@dataclass(frozen=True)
class Address:
    host: str
    port: int
    ipv6: bool = False

    @property
    def url(self) -> str:
        """The address for a browser on this machine (a wildcard means loopback)."""
        if self.host in ("", "0", "0.0.0.0"):  # noqa: S104 (naming it, not binding it)
            host = DEFAULT_HOST
        elif self.host == "::":
            host = "[::1]"
        else:
            host = f"[{self.host}]" if self.ipv6 else self.host
        return f"http://{host}:{self.port}"

    def serve_arg(self, port: int | None = None) -> str:
        host = f"[{self.host}]" if self.ipv6 else self.host
        return f"{host}:{port or self.port}"


def address_parse(addrport: str) -> Address:
    """``8000``, ``127.0.0.1:8000``, ``[::1]:8000`` or ``localhost:8000``, as
    runserver reads them. Raises CommandError."""
    match = re.match(naiveip_re, addrport)
    if match is None or not match.group(5).isdigit():
        raise CommandError(
            f"{addrport!r} is not a port or an address:port pair (e.g. 127.0.0.1:8000)"
        )
    host, _ipv4, ipv6, _fqdn, port = match.groups()
    if ipv6:
        host = host[1:-1]
    return Address(host=host or DEFAULT_HOST, port=int(port), ipv6=bool(ipv6))


def _bind_error(address: Address, port: int | None = None) -> OSError | None:
    """Why the server could not listen on ``address`` (at ``port``), or None. Bound
    the way the server binds (SO_REUSEADDR: a port in TIME_WAIT is free)."""
    family = socket.AF_INET6 if address.ipv6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((address.host, address.port if port is None else port))
    except OSError as exc:
        return exc
    return None


def _free_port_near(address: Address) -> int | None:
    for port in range(address.port + 1, min(address.port + 100, 65535) + 1):
        if _bind_error(address, port) is None:
            return port
    return None


def bind_problem(address: Address) -> str | None:
    """A message for a person when ``address`` cannot be served, naming the ``make
    run`` variable that changes it; None when it can."""
    error = _bind_error(address)
    if error is None:
        return None
    where = f"{address.host}:{address.port}"
    if isinstance(error, socket.gaierror):
        return (
            f"cannot resolve the host {address.host!r}; choose another address with HOST=, "
            f"e.g. `make run HOST={DEFAULT_HOST}`"
        )
    if error.errno == errno.EADDRINUSE:
        free = _free_port_near(address)
        example = free or address.port + 1
        return (
            f"port {address.port} on {address.host} is taken (another program listens "
            f"there); choose another port with PORT=, e.g. `make run PORT={example}` "
            f"(or `manage.py serve {address.serve_arg(example)}`); HOST= changes the address"
        )
    if error.errno == errno.EACCES:
        return (
            f"this user may not listen on {where} (ports below 1024 need privileges); "
            "choose another port with PORT=, e.g. `make run PORT=8000`"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return (
            f"{address.host} is not an address of this machine; choose another with HOST=, "
            f"e.g. `make run HOST={DEFAULT_HOST}` (or HOST=0.0.0.0 for every interface)"
        )
    return (
        f"cannot listen on {where}: {error.strerror or error}; choose another address with "
        f"HOST= and PORT=, e.g. `make run HOST={DEFAULT_HOST} PORT=8001`"
    )


class _QuietPeriodicJobs(logging.Filter):
    """Leaves out the in-process scheduler's "Task ... succeeded" lines (several a
    minute, forever); its failures, and the tasks requests cause, are still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != SCHEDULER_THREAD or record.levelno >= logging.WARNING


class Command(BaseCommand):
    help = "Serve Kiroku (development server) with its periodic jobs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default=f"{DEFAULT_HOST}:8000")
        parser.add_argument(
            "--ensure-admin",
            action="store_true",
            help="create the local admin if no superuser exists and print its password, "
            "as the last lines before the server starts",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        address = address_parse(options["addrport"])
        problem = bind_problem(address)
        if problem is not None:
            raise CommandError(problem)
        if not os.environ.get("KIROKU_BASE_URL"):
            settings.KIROKU_BASE_URL = address.url
        in_process = settings.CELERY_TASK_ALWAYS_EAGER
        if in_process:
            self.stdout.write("Periodic jobs run in-process (no REDIS_URL configured).")
        scheduler: InProcessScheduler | None = None
        quiet = _QuietPeriodicJobs()
        # Django's runserver: its on_bind hook announces the address.
        runserver: Any = load_command_class(get_commands()["runserver"], "runserver")
        announce = runserver.on_bind

        def on_bind(server_port: int) -> None:
            nonlocal scheduler
            # Bound: the server will serve, so the admin's password is worth showing.
            if options["ensure_admin"]:
                self._admin_show(address)
            announce(server_port)
            sys.stdout.flush()
            if in_process:
                logging.getLogger("celery.app.trace").addFilter(quiet)
                scheduler = InProcessScheduler()
                scheduler.start()

        runserver.on_bind = on_bind
        try:
            call_command(runserver, address.serve_arg(), use_reloader=False, insecure_serving=True)
        finally:
            if scheduler is not None:
                scheduler.stop()
            logging.getLogger("celery.app.trace").removeFilter(quiet)

    def _admin_show(self, address: Address) -> None:
        try:
            account = admin_ensure()
        except AdminAccountError as exc:
            self.stderr.write(f"Error: {exc}")
            return
        finally:
            connection.close()  # the serving threads use their own connections
        sign_in_url = address.url + resolve_url(settings.LOGIN_URL)
        self.stdout.write(admin_notice(account, sign_in_url=sign_in_url))
        self.stdout.write("")
