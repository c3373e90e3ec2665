"""config/gunicorn.py: gunicorn's settings come from the environment, and a malformed
value stops start-up naming the variable."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

CONFIG = Path(__file__).resolve().parents[2] / "config" / "gunicorn.py"


def load(monkeypatch, **env: str) -> dict:
    for name in ("KIROKU_BIND", "KIROKU_WEB_WORKERS", "KIROKU_WEB_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONFIG))


def test_defaults_serve_on_port_8000_with_two_sync_workers(monkeypatch):
    config = load(monkeypatch)
    assert (config["bind"], config["workers"], config["worker_class"]) == (
        ["0.0.0.0:8000"],
        2,
        "sync",
    )


def test_more_than_one_thread_switches_to_gthread(monkeypatch):
    config = load(monkeypatch, KIROKU_WEB_THREADS="4")
    assert (config["threads"], config["worker_class"]) == (4, "gthread")


@pytest.mark.parametrize("value", ["0", "65", "two"])
def test_a_bad_worker_count_stops_start_up_naming_the_variable(monkeypatch, value):
    with pytest.raises(ImproperlyConfigured, match=r"^KIROKU_WEB_WORKERS must"):
        load(monkeypatch, KIROKU_WEB_WORKERS=value)
