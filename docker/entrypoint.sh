#!/bin/bash
# Kiroku's container entrypoint: one image, and the first argument picks the role.
#
#   web            gunicorn (config/gunicorn.py: KIROKU_BIND, KIROKU_WEB_WORKERS); no migrations
#   worker         a Celery worker on every queue (KIROKU_WORKER_CONCURRENCY, default 2)
#   beat           the periodic-job scheduler: run exactly one
#   migrate        apply database migrations, then exit
#   manage ARGS    python manage.py ARGS (ensure_admin, create_token, createsuperuser...)
#   anything else  run as given (python -c ..., bash)
#
# Extra arguments after a role go to its command. Each role execs its process, so it
# runs as PID 1 and receives the container's SIGTERM itself (graceful shutdown).
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: entrypoint.sh web|worker|beat|migrate|manage ARGS...|COMMAND..." >&2
    exit 64
fi

role="$1"
shift

# prometheus_client's multiprocess mode keeps one file per process in this folder (the
# image sets it). Files left by an earlier start of this container would add stale
# counts, so the long-running roles start it empty.
fresh_metrics_dir() {
    if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
        rm -rf "$PROMETHEUS_MULTIPROC_DIR"
        mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    fi
}

case "$role" in
    web)
        fresh_metrics_dir
        exec gunicorn config.wsgi -c config/gunicorn.py "$@"
        ;;
    worker)
        fresh_metrics_dir
        exec celery -A config worker -Q default,maintenance,notifications \
            --concurrency "${KIROKU_WORKER_CONCURRENCY:-2}" "$@"
        ;;
    beat)
        # The schedule file records when each job last ran; the image's only writable
        # folder is KIROKU_VAR_DIR. Losing it (a new container) only re-runs each job once.
        exec celery -A config beat \
            --schedule "${KIROKU_VAR_DIR:-/app/var}/celerybeat-schedule" "$@"
        ;;
    migrate)
        exec python manage.py migrate --noinput "$@"
        ;;
    manage)
        exec python manage.py "$@"
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
