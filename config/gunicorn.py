"""gunicorn's settings for Kiroku in production: ``gunicorn config.wsgi -c config/gunicorn.py``.

Read from the environment like every other setting; a malformed value stops start-up
with a message that names the variable:

- ``KIROKU_BIND`` (default ``0.0.0.0:8000``): the address to listen on.
- ``KIROKU_WEB_WORKERS`` (default 2, 1 to 64): worker processes.
- ``KIROKU_WEB_THREADS`` (default 1, 1 to 32): threads per worker.
- ``KIROKU_FORWARDED_ALLOW_IPS`` (default ``127.0.0.1``): the proxies whose
  ``X-Forwarded-*`` headers are trusted (comma-separated, or ``*`` behind a private
  network's load balancer).
"""

from __future__ import annotations

import os

from config.env import env_int, env_str

bind = [env_str("KIROKU_BIND", "0.0.0.0:8000")]
workers = env_int("KIROKU_WEB_WORKERS", 2, minimum=1, maximum=64)
# Django's ORM and psycopg are synchronous, so a worker serves one request at a time
# (sync); requests that mostly wait on the database or S3 presigning can share a worker
# with threads (gthread), which also keeps client connections alive between requests.
threads = env_int("KIROKU_WEB_THREADS", 1, minimum=1, maximum=32)
worker_class = "gthread" if threads > 1 else "sync"

# A request still running after this long means a stuck worker, which gunicorn
# replaces; the API's requests are short (a log batch is at most 4 MiB).
timeout = 60
graceful_timeout = 30
keepalive = 5
# Memory hygiene: each worker is replaced after about this many requests, the jitter
# keeping the workers from restarting all at once.
max_requests = 10000
max_requests_jitter = 1000

# The application logs its requests itself (apps.core.observability: structured, with
# the request id), so gunicorn's access log would only repeat them. Its error log goes
# to stderr.
accesslog = None
errorlog = "-"

forwarded_allow_ips = env_str("KIROKU_FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's control socket (gunicornc) would sit at one path per user, which a second
# instance on the same host takes over; Kiroku is managed with signals instead.
control_socket_disable = True
# limit_request_line, limit_request_fields and limit_request_field_size keep gunicorn's
# defaults: API paths are short and a bearer token fits in a header many times over.

# The workers' heartbeat files (gunicorn's own; nothing else goes there) are touched
# every few seconds; on tmpfs a slow or full disk cannot make a healthy worker look stuck.
_SHM = "/dev/shm"  # noqa: S108
if os.path.isdir(_SHM):
    worker_tmp_dir = _SHM


# Prometheus multiprocess mode (apps.core.metrics): the hooks import Kiroku lazily, so
# the master stays free of Django and prometheus_client unless metrics are on.


def on_starting(server) -> None:
    """Before any worker exists: drop the counters a previous run left behind."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from apps.core.metrics import gunicorn_on_starting

        gunicorn_on_starting(server)


def child_exit(server, worker) -> None:
    """A worker has exited: its live gauges stop counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from apps.core.metrics import gunicorn_child_exit

        gunicorn_child_exit(server, worker)
