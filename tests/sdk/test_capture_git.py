"""Git capture against real temporary repositories (the ``git`` command, no mocks)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from kiroku.capture import CaptureOptions, capture_run_context
from kiroku.capture.git import UNTRACKED_HEADER, git_info, remote_strip_credentials

GIT_FIELDS = {"commit", "branch", "remote", "dirty", "diff", "diff_truncated"}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture(autouse=True)
def _no_parent_repository(tmp_path, monkeypatch):
    """Git must not find a repository above the test's folder, nor the user's config."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def repo(tmp_path) -> Path:
    """A repository on ``main`` with one commit of ``train.py``."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Test User")
    git(root, "config", "user.email", "test@example.invalid")
    git(root, "config", "commit.gpgsign", "false")
    (root / "train.py").write_text("lr = 0.1\nepochs = 3\n")
    git(root, "add", "train.py")
    git(root, "commit", "-q", "-m", "first")
    return root


def test_a_dirty_repository_is_recorded_with_its_diff_and_untracked_files(repo):
    git(repo, "remote", "add", "origin", "https://alice:ghp_secret@git.example.com/team/x.git")
    (repo / "train.py").write_text("lr = 0.3\nepochs = 3\n")
    (repo / "notes.txt").write_text("not committed\n")

    info = git_info(repo)

    assert info == {
        "commit": git(repo, "rev-parse", "HEAD"),
        "branch": "main",
        "remote": "https://git.example.com/team/x.git",
        "dirty": True,
        "diff": info["diff"],
        "diff_truncated": False,
    }
    assert info["diff"].startswith(UNTRACKED_HEADER + "#   notes.txt\n")
    assert "-lr = 0.1\n+lr = 0.3\n" in info["diff"]
    assert "diff --git a/train.py b/train.py" in info["diff"]
    assert "not committed" not in info["diff"]  # untracked contents are never recorded


def test_staged_changes_count_as_dirty_and_are_in_the_diff(repo):
    (repo / "model.py").write_text("layers = 50\n")
    git(repo, "add", "model.py")

    info = git_info(repo)

    assert info["dirty"] is True
    assert "+layers = 50" in info["diff"]


def test_the_diff_is_recorded_with_its_secrets_redacted(repo):
    token = "krk_" + "Fake0fake1FAKE2" * 3
    (repo / "train.py").write_text(f'lr = 0.3\nrun = kiroku.init(token="{token}")\n')

    info = git_info(repo)

    assert '+run = kiroku.init(token="[redacted:kiroku-token]")\n' in info["diff"]
    assert token not in info["diff"]


def test_a_diff_that_redaction_lengthens_is_cut_again(repo):
    (repo / "train.py").write_text("lr = 0.1\nepochs = 3\n" + "password = 'x1'\n" * 200)
    size = len(git_info(repo)["diff"].encode())  # each 'x1' became '[redacted:secret]'

    info = git_info(repo, max_diff_bytes=size - 1)

    assert len(info["diff"].encode()) == size - 1
    assert info["diff_truncated"] is True


def test_a_clean_repository_is_not_dirty_and_has_no_diff(repo):
    info = git_info(repo)

    assert info["dirty"] is False
    assert info["diff"] == ""
    assert info["diff_truncated"] is False
    assert info["remote"] == ""


def test_untracked_files_alone_do_not_make_it_dirty_but_are_listed(repo):
    (repo / "scratch.py").write_text("print(1)\n")

    info = git_info(repo)

    assert info["dirty"] is False
    assert info["diff"] == UNTRACKED_HEADER + "#   scratch.py\n\n"


def test_ignored_files_are_not_listed(repo):
    (repo / ".gitignore").write_text("outputs/\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore outputs")
    (repo / "outputs").mkdir()
    (repo / "outputs" / "model.pt").write_bytes(b"\x00" * 10)

    assert git_info(repo)["diff"] == ""


def test_outside_a_repository_git_is_none(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()

    assert git_info(plain) is None
    assert capture_run_context(CaptureOptions(), cwd=plain)["git"] is None


def test_turned_off_git_is_none_even_in_a_repository(repo):
    assert capture_run_context(CaptureOptions(git=False), cwd=repo)["git"] is None


def test_capture_run_context_sends_exactly_the_servers_git_fields(repo):
    git_part = capture_run_context(CaptureOptions(packages=False, gpus=False), cwd=repo)["git"]

    assert set(git_part) == GIT_FIELDS
    assert git_part["commit"] == git(repo, "rev-parse", "HEAD")


def test_the_diff_is_capped_on_a_character_boundary_and_flagged(repo):
    (repo / "train.py").write_text("# 日本語のコメント\n" * 2000)

    info = git_info(repo, max_diff_bytes=1001)

    encoded = info["diff"].encode("utf-8")
    assert len(encoded) <= 1001
    assert len(encoded) > 1001 - 4  # cut at most one character short of the cap
    assert info["diff_truncated"] is True
    assert info["diff"].startswith("diff --git a/train.py b/train.py")


def test_a_diff_far_over_the_cap_is_cut_without_reading_it_all(repo):
    (repo / "train.py").write_text("x = 1  # padding padding padding padding\n" * 100_000)

    info = git_info(repo, max_diff_bytes=10_000)

    assert info["diff_truncated"] is True
    assert 10_000 - 4 < len(info["diff"].encode("utf-8")) <= 10_000
    assert info["dirty"] is True


def test_a_diff_under_the_cap_is_not_flagged(repo):
    (repo / "train.py").write_text("lr = 0.2\n")

    info = git_info(repo, max_diff_bytes=1_048_576)

    assert info["diff_truncated"] is False
    assert info["diff"].endswith("+lr = 0.2\n")


def test_a_binary_change_is_summarised_not_copied(repo):
    (repo / "weights.bin").write_bytes(b"\x00\x01" * 100)
    git(repo, "add", "weights.bin")

    info = git_info(repo)

    assert "Binary files /dev/null and b/weights.bin differ" in info["diff"]
    assert "\x00" not in info["diff"]


def test_a_detached_head_has_no_branch(repo):
    git(repo, "checkout", "-q", "--detach")

    info = git_info(repo)

    assert info["branch"] == ""
    assert info["commit"] == git(repo, "rev-parse", "HEAD")


def test_before_the_first_commit_the_staged_files_are_the_diff(tmp_path):
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "a.py").write_text("x = 1\n")
    git(root, "add", "a.py")

    info = git_info(root)

    assert info["commit"] == ""
    assert info["branch"] == "main"
    assert "+x = 1" in info["diff"]


def test_the_branch_upstream_remote_wins_over_origin(repo):
    git(repo, "remote", "add", "origin", "https://git.example.com/upstream/x.git")
    git(repo, "remote", "add", "fork", "git@git.example.com:alice/x.git")
    git(repo, "config", "branch.main.remote", "fork")

    assert git_info(repo)["remote"] == "git@git.example.com:alice/x.git"


@pytest.mark.parametrize(
    ("given", "recorded"),
    [
        ("https://user:token@host/x.git", "https://host/x.git"),
        ("https://ghp_abc123@github.com/org/x.git", "https://github.com/org/x.git"),
        ("https://user:p@ss@host/x.git", "https://host/x.git"),
        ("http://host:8080/x.git", "http://host:8080/x.git"),
        ("ssh://git:secret@host:22/x.git", "ssh://git@host:22/x.git"),
        ("ssh://git@host/x.git", "ssh://git@host/x.git"),
        ("git+ssh://:secret@host/x.git", "git+ssh://host/x.git"),
        ("git@github.com:org/x.git", "git@github.com:org/x.git"),
        ("deploy:secret@host:org/x.git", "deploy@host:org/x.git"),
        ("/srv/git/x.git", "/srv/git/x.git"),
        ("file:///srv/git/x.git", "file:///srv/git/x.git"),
    ],
)
def test_remote_credentials_are_stripped(given, recorded):
    assert remote_strip_credentials(given) == recorded
