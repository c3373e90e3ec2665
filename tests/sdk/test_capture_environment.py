"""Environment capture: the fields the server accepts, their types, and what is hidden."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import sys

import pytest
from kiroku.capture import CaptureOptions, capture_run_context
from kiroku.capture import environment as probes
from kiroku.capture.environment import command_line, installed_packages

# apps/runs/validation/records.py: ENVIRONMENT_FIELDS. Unknown fields are refused.
SERVER_FIELDS = {
    "python": str,
    "packages": list,
    "os": str,
    "cpu_count": int,
    "memory": int,
    "gpus": list,
    "command": list,
    "cwd": str,
    "hostname": str,
}


@pytest.fixture
def no_gpu_tool(tmp_path, monkeypatch):
    """A PATH without nvidia-smi, so the GPU list is empty on any machine."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_every_server_field_is_recorded_with_its_type(tmp_path, no_gpu_tool):
    environment = capture_run_context(CaptureOptions(git=False), cwd=tmp_path)["environment"]

    assert set(environment) == set(SERVER_FIELDS)
    for name, kind in SERVER_FIELDS.items():
        assert type(environment[name]) is kind, name
    assert environment["python"] == platform.python_version()
    assert environment["cpu_count"] == os.cpu_count()
    assert environment["memory"] > 0
    assert environment["gpus"] == []
    assert environment["cwd"] == str(tmp_path)
    assert environment["hostname"] == platform.node()
    assert len(json.dumps(environment, allow_nan=False)) < 1024 * 1024


def test_packages_are_sorted_name_version_pairs_of_what_is_installed():
    packages = installed_packages()

    assert f"pytest=={importlib.metadata.version('pytest')}" in packages
    assert all(p.count("==") == 1 for p in packages)
    names = [p.split("==")[0].lower().replace("_", "-") for p in packages]
    assert names == sorted(names)
    assert len(set(names)) == len(names)


def test_each_part_can_be_turned_off(tmp_path):
    options = CaptureOptions(git=False, environment=False, packages=False, gpus=False)

    assert capture_run_context(options, cwd=tmp_path) == {"git": None, "environment": {}}


def test_packages_and_gpus_are_governed_by_their_own_switches(tmp_path, no_gpu_tool):
    options = CaptureOptions(git=False, environment=False)

    assert set(capture_run_context(options, cwd=tmp_path)["environment"]) == {"packages", "gpus"}


def test_a_failing_probe_is_left_out_and_the_rest_recorded(tmp_path, monkeypatch):
    def broken() -> int:
        raise RuntimeError("no /proc here")

    monkeypatch.setattr(probes, "memory_total", broken)
    monkeypatch.setattr(probes, "installed_packages", broken)

    environment = capture_run_context(CaptureOptions(git=False, gpus=False), cwd=tmp_path)[
        "environment"
    ]

    assert "memory" not in environment
    assert "packages" not in environment
    assert environment["cpu_count"] == os.cpu_count()


def test_the_command_line_is_the_original_argv(monkeypatch):
    monkeypatch.setattr(sys, "orig_argv", ["python3", "-m", "train", "--lr", "3e-4"])

    assert command_line() == ["python3", "-m", "train", "--lr", "3e-4"]


def test_secrets_on_the_command_line_are_hidden():
    argv = [
        "python",
        "train.py",
        "--token",
        "krk_abc",
        "--api-key=sk-123",
        "--wandb_api_key",
        "xyz",
        "--db-password=hunter2",
        "--data",
        "https://user:pass@data.example.com/set.tar",
        "--lr",
        "0.1",
    ]

    assert command_line(argv) == [
        "python",
        "train.py",
        "--token",
        "[redacted:secret]",
        "--api-key=[redacted:secret]",
        "--wandb_api_key",
        "[redacted:secret]",
        "--db-password=[redacted:secret]",
        "--data",
        "https://user:[redacted:password]@data.example.com/set.tar",
        "--lr",
        "0.1",
    ]


def test_a_secret_with_a_known_format_is_named_by_its_kind_on_the_command_line():
    token = "krk_" + "Ab1" * 10
    argv = [
        "python",
        "train.py",
        "--token",
        token,
        f"HF_TOKEN=hf_{'x' * 34}",
        "--tokenizer",
        "bert",
    ]

    assert command_line(argv) == [
        "python",
        "train.py",
        "--token",
        "[redacted:kiroku-token]",
        "HF_TOKEN=[redacted:huggingface-token]",
        "--tokenizer",
        "bert",
    ]


def test_a_huge_command_line_is_cut_under_64_kib():
    argv = ["python", "train.py", *(f"/data/shard-{i:06d}.tar" for i in range(20_000))]

    command = command_line(argv)

    assert len(json.dumps(command)) <= 64 * 1024
    assert command[:2] == ["python", "train.py"]
    assert command[-1].startswith("... (") and command[-1].endswith(" more arguments)")


def test_text_the_server_would_refuse_is_made_safe(tmp_path, monkeypatch, no_gpu_tool):
    """NUL is refused by the API (PostgreSQL cannot store it) and a lone surrogate (an
    undecodable file name in argv) cannot be encoded as UTF-8 at all."""
    monkeypatch.setattr(sys, "orig_argv", ["python", "a\x00b", "data/\udcff.bin"])

    command = capture_run_context(CaptureOptions(git=False, packages=False), cwd=tmp_path)[
        "environment"
    ]["command"]

    assert command == ["python", "a\ufffdb", "data/?.bin"]
    json.dumps(command, ensure_ascii=False).encode("utf-8")
