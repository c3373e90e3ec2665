#!/usr/bin/env bash
# Kiroku against MLflow and raw SQL, on this machine, in one go. See bench/README.md.
#
#   bench/run_all.sh                                    # full size (about 20 minutes)
#   BENCH_POINTS=20000 BENCH_RUNS=200 bench/run_all.sh  # smoke run (about 2 minutes)
#
# Knobs (environment):
#   BENCH_POINTS         points per ingestion configuration (default 1000000)
#   BENCH_MLFLOW_POINTS  the same for MLflow (default BENCH_POINTS)
#   BENCH_RUNS           runs in the search project (default 5000)
#   BENCH_REPEAT         timed requests per search filter and portal page (default 50)
#   BENCH_ROUNDS         ingestion rounds per configuration, interleaved; the report keeps
#                        each configuration's best (default 1)
#   BENCH_WORKERS        worker processes for each server (default 4)
#   BENCH_PG             PostgreSQL server URL without a database
#                        (default postgresql://postgres@127.0.0.1:5432)
#   BENCH_PORTAL_RUNS    runs in the portal project (default 10000)
#   BENCH_SKIP           space-separated parts to leave out: raw_sql kiroku mlflow portal audit
#
# It drops and recreates the databases kiroku_bench, kiroku_bench_portal and mlflow_bench,
# serves Kiroku with gunicorn (installed into .venv if missing) and MLflow from
# bench/.mlflow-venv (created if missing), measures one server at a time, stops it, times
# the portal's pages in-process (bench.portal: no server), and writes every JSON line to
# bench/results/<time>.jsonl, then a Markdown summary to bench/results/<time>.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PY="$ROOT/.venv/bin/python"
MLFLOW_VENV="$ROOT/bench/.mlflow-venv"
RESULTS="$ROOT/bench/results"
PG="${BENCH_PG:-postgresql://postgres@127.0.0.1:5432}"
WORKERS="${BENCH_WORKERS:-4}"
POINTS="${BENCH_POINTS:-1000000}"
MLFLOW_POINTS="${BENCH_MLFLOW_POINTS:-$POINTS}"
RUNS="${BENCH_RUNS:-5000}"
REPEAT="${BENCH_REPEAT:-50}"
SKIP=" ${BENCH_SKIP:-} "
KIROKU_PORT=8055
MLFLOW_PORT=5055
KIROKU_DB="$PG/kiroku_bench"
MLFLOW_DB="$PG/mlflow_bench"

STAMP="$(date -u +%Y%m%d-%H%M%S)"
OUT="$RESULTS/$STAMP.jsonl"
mkdir -p "$RESULTS"

say() { echo "[run_all] $*" >&2; }
wants() { [[ "$SKIP" != *" $1 "* ]]; }

# --- servers -----------------------------------------------------------------------
SERVER_PID=""
stop_server() {
  if [[ -n "$SERVER_PID" ]]; then
    # Each server runs in its own session: stop its whole process group.
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 -- "-$SERVER_PID" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
SAMPLER_PID=""
cleanup() {
  stop_server
  if [[ -n "$SAMPLER_PID" ]]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT INT TERM

wait_http() {  # wait_http URL NAME LOG
  for _ in $(seq 120); do
    if "$PY" -c "import httpx,sys; sys.exit(httpx.get('$1', timeout=2).status_code >= 500)" \
      2>/dev/null; then
      return 0
    fi
    kill -0 -- "-$SERVER_PID" 2>/dev/null || { say "$2 died; see $3"; tail -20 "$3" >&2; exit 1; }
    sleep 1
  done
  say "$2 did not answer at $1; see $3"
  exit 1
}

settle() {  # settle NAME: wait until the server's processes stop using CPU (start-up)
  local before after
  before="$(ps -s "$SERVER_PID" -o cputimes= | awk '{s += $1} END {print s + 0}')"
  for _ in $(seq 30); do
    sleep 3
    after="$(ps -s "$SERVER_PID" -o cputimes= | awk '{s += $1} END {print s + 0}')"
    if (( after - before <= 0 )); then return 0; fi
    before="$after"
  done
  say "$1 still busy after 90 s; measuring anyway"
}

recreate_db() {  # recreate_db NAME
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null
  psql "$PG/postgres" -qc "CREATE DATABASE $1" >/dev/null
}

checkpoint() { psql "$PG/postgres" -qc "CHECKPOINT" >/dev/null; }

# --- setup ---------------------------------------------------------------------------
if wants mlflow && [[ ! -x "$MLFLOW_VENV/bin/mlflow" ]]; then
  say "creating $MLFLOW_VENV (pip install mlflow psycopg2-binary)"
  python3 -m venv "$MLFLOW_VENV"
  "$MLFLOW_VENV/bin/pip" install -q mlflow psycopg2-binary
fi
if wants kiroku && [[ ! -x "$ROOT/.venv/bin/gunicorn" ]]; then
  say "installing gunicorn into .venv (for the benchmark only)"
  "$ROOT/.venv/bin/pip" install -q gunicorn
fi

# Load average every 5 s, to tell afterwards whether something else shared the machine.
( while true; do echo "$(date -u +%H:%M:%S) $(cut -d' ' -f1-3 /proc/loadavg)"; sleep 5; done ) \
  > "$RESULTS/$STAMP.load" &
SAMPLER_PID=$!

MLFLOW_VERSION=""
if wants mlflow; then
  MLFLOW_VERSION="$("$MLFLOW_VENV/bin/python" -c 'import mlflow; print(mlflow.__version__)')"
fi
"$PY" - "$OUT" "$MLFLOW_VERSION" "$WORKERS" <<'EOF'
import json, os, platform, subprocess, sys
out, mlflow_version, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
pg = subprocess.run(["psql", os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
                     + "/postgres", "-Atc", "SHOW server_version"],
                    capture_output=True, text=True).stdout.strip()
record = {"bench": "env", "cpus": os.cpu_count(), "python": platform.python_version(),
          "postgres": pg, "mlflow": mlflow_version or None, "server_workers": workers,
          "load_1m_at_start": os.getloadavg()[0]}
line = json.dumps(record)
print(line)
open(out, "a").write(line + "\n")
EOF

# --- raw SQL and Kiroku ----------------------------------------------------------------
if wants raw_sql || wants kiroku; then
  say "recreating kiroku_bench and migrating"
  recreate_db kiroku_bench
  DATABASE_URL="$KIROKU_DB" "$PY" manage.py migrate -v 0
fi

if wants raw_sql; then
  checkpoint
  "$PY" -m bench.raw_sql --database-url "$KIROKU_DB" --points "$POINTS" --out "$OUT"
fi

if wants kiroku; then
  export DJANGO_SUPERUSER_USERNAME=bench DJANGO_SUPERUSER_EMAIL=bench@example.invalid
  # A throwaway account in a throwaway database; the password is never used.
  DJANGO_SUPERUSER_PASSWORD="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(24))')" \
    DATABASE_URL="$KIROKU_DB" "$PY" manage.py createsuperuser --noinput >/dev/null
  # Kept in this process's environment only; it dies with the database on the next run.
  KIROKU_TOKEN="$(DATABASE_URL="$KIROKU_DB" "$PY" manage.py create_token bench 2>/dev/null | tail -1)"
  export KIROKU_TOKEN

  say "starting Kiroku: gunicorn, $WORKERS sync workers, :$KIROKU_PORT"
  # conn_max_age: each worker keeps one database connection for the whole run (Kiroku's
  # default drops it after 60 s), so its backend's CPU time is there to be counted.
  DATABASE_URL="$KIROKU_DB?conn_max_age=3600" setsid "$ROOT/.venv/bin/gunicorn" config.wsgi \
    --workers "$WORKERS" --bind "127.0.0.1:$KIROKU_PORT" --timeout 600 \
    > "$RESULTS/$STAMP.kiroku.log" 2>&1 &
  SERVER_PID=$!
  wait_http "http://127.0.0.1:$KIROKU_PORT/api/schema/" kiroku "$RESULTS/$STAMP.kiroku.log"
  settle kiroku

  checkpoint
  "$PY" -m bench.ingest --system kiroku --url "http://127.0.0.1:$KIROKU_PORT" \
    --points "$POINTS" --server-session "$SERVER_PID" --database-url "$KIROKU_DB" --out "$OUT"
  checkpoint
  "$PY" -m bench.search --system kiroku --url "http://127.0.0.1:$KIROKU_PORT" \
    --runs "$RUNS" --repeat "$REPEAT" --server-session "$SERVER_PID" \
    --database-url "$KIROKU_DB" --out "$OUT"
  stop_server
fi

# --- the portal (in-process, its own database) ---------------------------------------
if wants portal; then
  checkpoint
  "$PY" -m bench.portal --database-url "$PG/kiroku_bench_portal" --repeat "$REPEAT" \
    --out "$OUT"
fi

# --- the audit log at 1,000,000 events (in-process, its own database) -------------------
if wants audit; then
  checkpoint
  "$PY" -m bench.audit --database-url "$PG/kiroku_audit_bench" --out "$OUT"
fi

# --- MLflow ----------------------------------------------------------------------------
if wants mlflow; then
  say "recreating mlflow_bench"
  recreate_db mlflow_bench
  say "starting MLflow $MLFLOW_VERSION: $WORKERS workers, :$MLFLOW_PORT"
  mkdir -p "$RESULTS/mlflow-artifacts"
  # SQLAlchemy 2.1 defaults postgresql:// to psycopg 3; name the psycopg2 driver installed.
  # exec: the subshell becomes the server, so $! names its process group.
  (cd "$RESULTS" && exec setsid "$MLFLOW_VENV/bin/mlflow" server \
    --backend-store-uri "${MLFLOW_DB/postgresql:/postgresql+psycopg2:}" \
    --artifacts-destination "$RESULTS/mlflow-artifacts" \
    --host 127.0.0.1 --port "$MLFLOW_PORT" --workers "$WORKERS" \
    > "$RESULTS/$STAMP.mlflow.log" 2>&1) &
  SERVER_PID=$!
  wait_http "http://127.0.0.1:$MLFLOW_PORT/health" mlflow "$RESULTS/$STAMP.mlflow.log"
  # MLflow also starts background job consumers (huey); let their imports finish.
  settle mlflow

  checkpoint
  # log-batch takes at most 1,000 metrics a request, so MLflow gets 1,000-point batches.
  "$PY" -m bench.ingest --system mlflow --url "http://127.0.0.1:$MLFLOW_PORT" \
    --points "$MLFLOW_POINTS" --batches 1000 --server-session "$SERVER_PID" \
    --database-url "$MLFLOW_DB" --out "$OUT"
  checkpoint
  "$PY" -m bench.search --system mlflow --url "http://127.0.0.1:$MLFLOW_PORT" \
    --runs "$RUNS" --repeat "$REPEAT" --server-session "$SERVER_PID" \
    --database-url "$MLFLOW_DB" --out "$OUT"
  stop_server
fi

# How busy the machine was meanwhile (1-minute load average, sampled every 5 s).
awk -v out="$OUT" '{ n++; s += $2; if ($2 > m) m = $2 }
  END { printf "{\"bench\": \"load\", \"samples\": %d, \"load_1m_mean\": %.2f, \"load_1m_max\": %.2f}\n", n, s / n, m >> out }' \
  "$RESULTS/$STAMP.load"
tail -1 "$OUT"

"$PY" -m bench.report "$OUT" | tee "$RESULTS/$STAMP.md"
say "JSON lines: $OUT"
