"""What an artifact upload reads (files under a path, their names, whole and per-part
sha256, part ranges) and which names a download refuses; no server involved."""

from __future__ import annotations

import hashlib
import os

import pytest
from kiroku.artifacts.download import name_problem
from kiroku.artifacts.files import (
    artifact_name_problem,
    collect_files,
    file_sha256,
    log_problem,
    part_ranges,
    parts_sha256,
    read_range,
)

MIB = 1024 * 1024


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("size", "part_size", "expected"),
    [
        (0, 8, [(0, 0)]),  # an empty file is one empty part
        (1, 8, [(0, 1)]),
        (8, 8, [(0, 8)]),
        (9, 8, [(0, 8), (8, 1)]),
        (24, 8, [(0, 8), (8, 8), (16, 8)]),
        (25, 8, [(0, 8), (8, 8), (16, 8), (24, 1)]),
    ],
)
def test_part_n_covers_its_bytes_and_the_last_part_the_rest(size, part_size, expected):
    assert part_ranges(size, part_size) == expected
    assert part_ranges(size, part_size, len(expected)) == expected


@pytest.mark.parametrize(("size", "part_size", "count"), [(25, 8, 3), (25, 8, 5), (0, 8, 0)])
def test_a_server_plan_that_does_not_fit_the_size_is_refused(size, part_size, count):
    with pytest.raises(ValueError, match="does not fit"):
        part_ranges(size, part_size, count)


@pytest.mark.parametrize(("size", "part_size"), [(10, 0), (10, -8), (-1, 8)])
def test_a_nonsense_plan_is_refused(size, part_size):
    with pytest.raises(ValueError, match="bad part plan"):
        part_ranges(size, part_size)


def test_per_part_sha256_matches_each_slice(tmp_path):
    data = os.urandom(3 * MIB + 12_345)  # more than one read chunk per part, a short tail
    path = tmp_path / "blob"
    path.write_bytes(data)
    part_size = 2 * MIB - 7  # not a multiple of the read chunk
    expected = [_sha(data[o : o + part_size]) for o in range(0, len(data), part_size)]
    assert parts_sha256(str(path), len(data), part_size) == expected
    assert file_sha256(str(path)) == (_sha(data), len(data))


def test_an_empty_file_hashes_as_one_empty_part(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert parts_sha256(str(path), 0, 8 * MIB) == [_sha(b"")]
    assert file_sha256(str(path)) == (_sha(b""), 0)


@pytest.mark.parametrize("actual", [b"x" * 99, b"x" * 101])
def test_a_file_that_changed_since_it_was_hashed_is_an_error(tmp_path, actual):
    path = tmp_path / "changing"
    path.write_bytes(actual)
    with pytest.raises(OSError, match="changed"):
        parts_sha256(str(path), 100, 30)


def test_hashing_stops_when_asked(tmp_path):
    path = tmp_path / "big"
    path.write_bytes(b"\0" * (3 * MIB))
    with pytest.raises(InterruptedError):
        file_sha256(str(path), lambda: True)
    with pytest.raises(InterruptedError):
        parts_sha256(str(path), 3 * MIB, MIB, lambda: True)


def test_read_range_gives_exactly_the_part_and_fails_on_a_short_file(tmp_path):
    path = tmp_path / "blob"
    data = os.urandom(2 * MIB + 3)
    path.write_bytes(data)
    assert b"".join(read_range(str(path), MIB - 1, MIB + 2)) == data[MIB - 1 : 2 * MIB + 1]
    assert b"".join(read_range(str(path), 5, 0)) == b""
    with pytest.raises(OSError, match="shorter"):
        b"".join(read_range(str(path), 2 * MIB, 10))


# -- which files, under which names ------------------------------------------------------


def _tree(root):
    (root / "ckpt" / "sub").mkdir(parents=True)
    (root / "ckpt" / "a.bin").write_bytes(b"a")
    (root / "ckpt" / "sub" / "b.txt").write_bytes(b"bb")
    (root / "ckpt" / "sub" / "empty").write_bytes(b"")
    (root / "outside").mkdir()
    (root / "outside" / "secret").write_bytes(b"s")
    (root / "ckpt" / "link-in").symlink_to(root / "ckpt" / "a.bin")
    (root / "ckpt" / "link-out").symlink_to(root / "outside" / "secret")
    (root / "ckpt" / "link-dir").symlink_to(root / "outside")
    (root / "ckpt" / "dangling").symlink_to(root / "nowhere")
    os.mkfifo(root / "ckpt" / "fifo")
    return root / "ckpt"


def test_a_directory_is_every_regular_file_below_it_under_its_name(tmp_path):
    ckpt = _tree(tmp_path)
    skipped = []
    files = collect_files(str(ckpt), None, lambda path, why: skipped.append(os.path.basename(path)))
    assert [(f.name, f.size) for f in files] == [
        ("ckpt/a.bin", 1),
        ("ckpt/link-in", 1),  # a link to a file inside: uploaded under the link's name
        ("ckpt/sub/b.txt", 2),
        ("ckpt/sub/empty", 0),
    ]
    assert sorted(skipped) == ["dangling", "fifo", "link-dir", "link-out"]


def test_a_directory_can_be_named(tmp_path):
    ckpt = _tree(tmp_path)
    files = collect_files(str(ckpt) + "/", "models/best", lambda *_: None)
    assert files[0].name == "models/best/a.bin"


def test_a_file_is_its_basename_or_its_name(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"123")
    assert [(f.name, f.size) for f in collect_files(str(path), None, lambda *_: None)] == [
        ("model.pt", 3)
    ]
    assert collect_files(str(path), "final/model.pt", lambda *_: None)[0].name == "final/model.pt"


def test_files_whose_names_the_server_would_refuse_are_skipped_and_said(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "ok").write_bytes(b"")
    (tmp_path / "d" / "bad#1").write_bytes(b"")
    (tmp_path / "d" / "tab\there").write_bytes(b"")
    skipped = []
    files = collect_files(str(tmp_path / "d"), None, lambda path, why: skipped.append(why))
    assert [f.name for f in files] == ["d/ok"]
    assert len(skipped) == 2 and all("artifact path" in why for why in skipped)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "/abs",
        "a//b",
        "a/./b",
        "../x",
        "a/..",
        "a\\b",
        "a#b",
        "a;b",
        "a\x00b",
        "a\nb",
        "%2e%2e/x",
        "a/%2E%2e",
        "a%2fb/..%2F",
    ],
)
def test_artifact_names_the_server_refuses(name):
    assert artifact_name_problem(name) is not None


@pytest.mark.parametrize(
    "name", ["model.pt", "ckpt/epoch 3/w.bin", "データ/ok.txt", "a%20b", "..a"]
)
def test_artifact_names_the_server_takes(name):
    assert artifact_name_problem(name) is None


def test_log_problem_says_what_is_wrong_before_anything_is_queued(tmp_path):
    (tmp_path / "m.pt").write_bytes(b"")
    assert log_problem(tmp_path / "m.pt", None) is None
    assert "not a file or directory" in log_problem(tmp_path / "missing", None)
    assert "must be relative" in log_problem(tmp_path / "m.pt", "/m.pt")
    assert "must be a string" in log_problem(tmp_path / "m.pt", 3)  # type: ignore[arg-type]


# -- names a download refuses ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        *("", "../evil", "/etc/passwd", "a/../../x", "C:\\x", "C:x", "..\\x", "ok/..", "a\x00b"),
        *("a/./b", "a//b", "a/", "\x1b[2Jx", "a\u0085b", None, 3),
    ],
)
def test_a_download_refuses_names_that_could_leave_the_folder(name):
    assert name_problem(name) is not None


@pytest.mark.parametrize("name", ["ok.txt", "nested/deep/file.bin", "データ/ok.txt", "..a/b.."])
def test_a_download_takes_plain_relative_names(name):
    assert name_problem(name) is None
