"""Dataset hashes: the documented manifest digest, the stat cache, the background thread."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest
from kiroku.capture import DatasetHasher
from kiroku.capture import datasets as datasets_module
from kiroku.capture.datasets import hash_path

RECORD_FIELDS = {"name", "uri", "digest", "size", "file_count", "source"}
WAIT = 30  # seconds; a generous bound on background work, never a measurement


def make_tree(root: Path) -> dict[str, bytes]:
    """Names chosen so that sorting by full path and walking folder by folder differ
    unless the walk sorts a folder as ``name/`` (``a-c`` < ``a/b`` < ``a0``)."""
    files = {
        "a/b": b"bee\n",
        "a-c": b"sea\n",
        "a0": b"zero\n",
        "a/deeper/x.bin": bytes(range(256)) * 10,
        "empty": b"",
        "日本語.txt": "データ\n".encode(),
    }
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return files


def expected_digest(files: dict[str, bytes]) -> str:
    """The digest as the module docstring defines it, computed independently."""
    lines = [
        f"{name}\t{len(content)}\t{hashlib.sha256(content).hexdigest()}\n"
        for name, content in sorted(files.items())
    ]
    return "sha256:" + hashlib.sha256("".join(lines).encode()).hexdigest()


def bump_mtime(path: Path) -> None:
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))


class Collector:
    def __init__(self) -> None:
        self.records: list[dict] = []
        self.done = threading.Event()
        self.expected = 1

    def __call__(self, record: dict) -> None:
        self.records.append(record)
        if len(self.records) >= self.expected:
            self.done.set()


def hash_once(cache_dir: Path, name: str, path: Path | str) -> dict:
    hasher = DatasetHasher(cache_dir)
    collect = Collector()
    hasher.submit(name, str(path), collect)
    assert collect.done.wait(WAIT)
    hasher.shutdown()
    return collect.records[0]


def test_a_directory_digest_is_the_documented_manifest_hash(tmp_path):
    files = make_tree(tmp_path / "data")

    record = hash_once(tmp_path / "cache", "train", tmp_path / "data")

    assert record == {
        "name": "train",
        "uri": str(tmp_path / "data"),
        "digest": expected_digest(files),
        "size": sum(len(c) for c in files.values()),
        "file_count": len(files),
        "source": "local",
    }


def test_the_digest_is_stable_across_runs_and_caches(tmp_path):
    make_tree(tmp_path / "data")

    first = hash_once(tmp_path / "cache-1", "train", tmp_path / "data")
    again = hash_once(tmp_path / "cache-1", "train", tmp_path / "data")
    elsewhere = hash_path(tmp_path / "data")[0]

    assert first["digest"] == again["digest"] == elsewhere


def test_the_digest_changes_when_a_file_changes(tmp_path):
    make_tree(tmp_path / "data")
    before = hash_once(tmp_path / "cache", "train", tmp_path / "data")["digest"]
    target = tmp_path / "data" / "a" / "b"
    target.write_bytes(b"BEE\n")  # same size
    bump_mtime(target)  # as any write a second later would

    after = hash_once(tmp_path / "cache", "train", tmp_path / "data")["digest"]

    assert after != before


@pytest.mark.parametrize("change", ["add", "rename", "remove"])
def test_the_digest_changes_with_the_set_of_files(tmp_path, change):
    make_tree(tmp_path / "data")
    before = hash_path(tmp_path / "data")[0]
    if change == "add":
        (tmp_path / "data" / "new").write_bytes(b"")
    elif change == "rename":
        (tmp_path / "data" / "a0").rename(tmp_path / "data" / "a1")
    else:
        (tmp_path / "data" / "a0").unlink()

    assert hash_path(tmp_path / "data")[0] != before


def test_an_unchanged_tree_is_not_read_again(tmp_path, monkeypatch):
    files = make_tree(tmp_path / "data")
    first = hash_once(tmp_path / "cache", "train", tmp_path / "data")
    reads: list[str] = []
    real = datasets_module.file_sha256

    def counting(path, abort=None):
        reads.append(path)
        return real(path, abort)

    monkeypatch.setattr(datasets_module, "file_sha256", counting)

    second = hash_once(tmp_path / "cache", "train", tmp_path / "data")

    assert reads == []
    assert second == first
    assert first["file_count"] == len(files)


def test_the_cache_trusts_size_and_mtime_and_nothing_else(tmp_path):
    """Proof without instrumenting the code: content rewritten behind the cache's back
    (same size, mtime restored) keeps the old digest, so its bytes were not read; a
    new mtime makes it read again."""
    make_tree(tmp_path / "data")
    target = tmp_path / "data" / "a0"
    first = hash_once(tmp_path / "cache", "train", tmp_path / "data")["digest"]
    info = target.stat()
    target.write_bytes(b"ZERO\n")
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))

    assert hash_once(tmp_path / "cache", "train", tmp_path / "data")["digest"] == first

    bump_mtime(target)
    assert hash_once(tmp_path / "cache", "train", tmp_path / "data")["digest"] != first


def test_a_single_file_digest_is_its_content_hash(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes(b"x,y\n1,2\n")

    record = hash_once(tmp_path / "cache", "csv", path)

    assert record["digest"] == "sha256:" + hashlib.sha256(b"x,y\n1,2\n").hexdigest()
    assert (record["size"], record["file_count"]) == (8, 1)


def test_submit_returns_before_the_hash_is_done(tmp_path, monkeypatch):
    """The hashing thread is held inside its first file read; submit() has returned
    and nothing has been reported until the read is let go."""
    make_tree(tmp_path / "data")
    entered = threading.Event()
    release = threading.Event()
    real = datasets_module.file_sha256

    def held(path, abort=None):
        entered.set()
        assert release.wait(WAIT)
        return real(path, abort)

    monkeypatch.setattr(datasets_module, "file_sha256", held)
    hasher = DatasetHasher(tmp_path / "cache")
    collect = Collector()

    hasher.submit("train", str(tmp_path / "data"), collect)

    assert entered.wait(WAIT)
    assert collect.records == []
    release.set()
    assert collect.done.wait(WAIT)
    assert collect.records[0]["file_count"] == 6
    hasher.shutdown()


def test_shutdown_with_wait_finishes_the_queue_and_later_submits_are_ignored(tmp_path):
    for index in range(3):
        (tmp_path / f"f{index}").write_bytes(b"x" * index)
    hasher = DatasetHasher(tmp_path / "cache")
    collect = Collector()
    for index in range(3):
        hasher.submit(f"d{index}", str(tmp_path / f"f{index}"), collect)

    hasher.shutdown(wait=True, timeout=WAIT)
    hasher.submit("late", str(tmp_path / "f0"), collect)

    assert [r["name"] for r in collect.records] == ["d0", "d1", "d2"]


def test_shutdown_without_wait_abandons_the_running_hash(tmp_path, monkeypatch):
    (tmp_path / "big").write_bytes(b"x" * (3 * datasets_module.CHUNK))
    entered = threading.Event()
    real = datasets_module.file_sha256

    def slow(path, abort=None):
        entered.set()
        assert abort is not None and abort.wait(WAIT)  # held until shutdown aborts
        return real(path, abort)

    monkeypatch.setattr(datasets_module, "file_sha256", slow)
    hasher = DatasetHasher(tmp_path / "cache")
    collect = Collector()
    hasher.submit("big", str(tmp_path / "big"), collect)
    assert entered.wait(WAIT)

    hasher.shutdown(wait=False)
    hasher._thread.join(WAIT)

    assert not hasher._thread.is_alive()
    assert collect.records == []


def test_a_missing_path_is_reported_without_a_digest(tmp_path):
    record = hash_once(tmp_path / "cache", "gone", tmp_path / "nowhere")

    assert record == {
        "name": "gone",
        "uri": str(tmp_path / "nowhere"),
        "digest": "",
        "size": None,
        "file_count": None,
        "source": "local",
    }


def test_a_url_is_recorded_not_read(tmp_path):
    record = hash_once(tmp_path / "cache", "remote", "s3://bucket/train/")

    assert set(record) == RECORD_FIELDS
    assert (record["uri"], record["source"], record["digest"]) == ("s3://bucket/train/", "s3", "")


def test_the_uri_is_the_absolute_path(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)

    assert hash_once(tmp_path / "cache", "d", "data")["uri"] == str(tmp_path / "data")


def test_link_cycles_end_and_fifos_are_skipped(tmp_path):
    data = tmp_path / "data"
    make_tree(data)
    before = hash_path(data)[0]
    (data / "a" / "loop").symlink_to(data, target_is_directory=True)
    os.mkfifo(data / "pipe")  # reading it would block forever

    assert hash_path(data)[0] == before


def test_a_linked_file_counts_under_its_link_name(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "outside.txt").write_bytes(b"hello")
    (data / "linked.txt").symlink_to(tmp_path / "outside.txt")

    assert hash_path(data)[0] == expected_digest({"linked.txt": b"hello"})


def test_a_broken_cache_file_does_not_stop_hashing(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / datasets_module.CACHE_FILE).write_bytes(b"this is not a database" * 100)
    files = make_tree(tmp_path / "data")

    record = hash_once(cache, "train", tmp_path / "data")

    assert record["digest"] == expected_digest(files)
