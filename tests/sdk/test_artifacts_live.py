"""Artifacts against the live server (local store, so the server itself takes the
PUTs): files, an empty file, a folder, a multipart upload whose part fails once or
whose URL has expired, each downloaded back and compared byte for byte."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from pathlib import Path

import httpx
import kiroku
import pytest
from kiroku.artifacts import multipart as multipart_module
from kiroku.artifacts import upload as upload_module
from kiroku.cli import main

MIB = 1024 * 1024


@pytest.fixture
def small_multipart_threshold():
    """Multipart above 1 MiB (parts stay the server's 8 MiB minimum). Not pytest-django's
    ``settings``: tests/sdk/conftest.py gives that name to the SDK's Settings."""
    from django.test import override_settings

    with override_settings(KIROKU_ARTIFACT_MULTIPART_THRESHOLD=MIB):
        yield


class StorageFaults(httpx.BaseTransport):
    """Wraps the SDK's storage transport: the first PUTs answer ``statuses`` (the body
    is read, as a server would), the rest go through. Counts PUTs per URL."""

    def __init__(self, statuses: list[int]) -> None:
        self.inner = httpx.HTTPTransport()
        self.statuses = list(statuses)
        self.puts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            with self.lock:
                self.puts[str(request.url)] += 1
                status = self.statuses.pop(0) if self.statuses else None
            if status is not None:
                request.read()
                return httpx.Response(status, request=request)
        return self.inner.handle_request(request)


@pytest.fixture
def storage_faults(monkeypatch):
    def install(statuses: list[int]) -> StorageFaults:
        faults = StorageFaults(statuses)
        monkeypatch.setattr(
            upload_module,
            "storage_client",
            lambda settings: httpx.Client(transport=faults, timeout=settings.timeout),
        )
        return faults

    return install


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_files_an_empty_file_and_a_folder_round_trip(settings, reader, tmp_path):
    source = tmp_path / "source"
    (source / "ckpt" / "nested" / "deeper").mkdir(parents=True)
    (source / "model.pt").write_bytes(b"weights" * 1000)
    (source / "empty.txt").write_bytes(b"")
    (source / "ckpt" / "a.bin").write_bytes(bytes(range(256)) * 4)
    (source / "ckpt" / "nested" / "deeper" / "データ.json").write_bytes(b'{"x": 1}')
    (source / "ckpt" / "nested" / "empty").write_bytes(b"")

    with kiroku.init(capture=False, settings=settings) as run:
        run.log_artifact(source / "model.pt", name="final/model.pt")
        run.log_artifact(source / "empty.txt")
        run.log_artifact(source / "ckpt")

    listed = {e["path"]: e for e in reader.run(run.id).artifacts()}
    expected = {
        "final/model.pt": b"weights" * 1000,
        "empty.txt": b"",
        "ckpt/a.bin": bytes(range(256)) * 4,
        "ckpt/nested/deeper/データ.json": b'{"x": 1}',
        "ckpt/nested/empty": b"",
    }
    assert {p: (e["size"], e["sha256"], e["version"]) for p, e in listed.items()} == {
        p: (len(d), _sha(d), 1) for p, d in expected.items()
    }
    assert listed["empty.txt"]["content_type"] == "text/plain"

    everything = reader.run(run.id).download_artifacts(dir=tmp_path / "all")
    assert everything.ok and _files(tmp_path / "all") == expected
    folder = reader.run(run.id).download_artifacts("ckpt/", dir=tmp_path / "ckpt")
    assert folder.ok and _files(tmp_path / "ckpt") == {
        p.removeprefix("ckpt/"): d for p, d in expected.items() if p.startswith("ckpt/")
    }
    one = reader.run(run.id).download_artifacts("final/model.pt", dir=tmp_path / "one")
    assert one.ok and _files(tmp_path / "one") == {"model.pt": b"weights" * 1000}
    with pytest.raises(kiroku.NotFound):
        reader.run(run.id).download_artifacts("nothing/here", dir=tmp_path / "none")


def test_logging_a_path_again_makes_a_new_version(settings, reader, tmp_path):
    path = tmp_path / "metrics.csv"
    with kiroku.init(capture=False, settings=settings) as run:
        path.write_bytes(b"epoch,loss\n1,0.5\n")
        run.log_artifact(path)
        run.finish()  # waits for the first upload before the file changes
    with kiroku.init(id=run.client_id, resume="must", capture=False, settings=settings) as again:
        path.write_bytes(b"epoch,loss\n1,0.5\n2,0.3\n")
        again.log_artifact(path)

    (entry,) = reader.run(run.id).artifacts()
    assert (entry["path"], entry["version"]) == ("metrics.csv", 2)
    reader.run(run.id).download_artifacts(dir=tmp_path / "out")
    assert (tmp_path / "out" / "metrics.csv").read_bytes() == b"epoch,loss\n1,0.5\n2,0.3\n"


def test_a_multipart_part_that_fails_once_is_sent_again_alone(
    settings, reader, tmp_path, small_multipart_threshold, storage_faults
):
    data = bytes(range(256)) * (17 * MIB // 256) + b"tail"  # 3 parts of at most 8 MiB
    (tmp_path / "big.bin").write_bytes(data)
    faults = storage_faults([503])
    with kiroku.init(capture=False, settings=settings) as run:
        run.log_artifact(tmp_path / "big.bin")

    assert sorted(faults.puts.values()) == [1, 1, 2]  # one part sent twice, the others once
    (entry,) = reader.run(run.id).artifacts()
    assert (entry["size"], entry["sha256"]) == (len(data), _sha(data))
    assert reader.run(run.id).download_artifacts(dir=tmp_path / "out").ok
    assert (tmp_path / "out" / "big.bin").read_bytes() == data


def test_an_expired_part_url_is_renewed_for_that_part(
    settings, reader, tmp_path, small_multipart_threshold, storage_faults, monkeypatch
):
    data = b"\x07" * (9 * MIB)  # 2 parts
    (tmp_path / "big.bin").write_bytes(data)
    faults = storage_faults([403])
    renewed: list[list[int] | None] = []
    part_urls = multipart_module._part_urls

    def spy(uploader, state, numbers):
        renewed.append(numbers)
        return part_urls(uploader, state, numbers)

    monkeypatch.setattr(multipart_module, "_part_urls", spy)
    with kiroku.init(capture=False, settings=settings) as run:
        run.log_artifact(tmp_path / "big.bin")

    assert renewed[0] is None and len(renewed) == 2 and len(renewed[1]) == 1
    assert sum(faults.puts.values()) == 3
    reader.run(run.id).download_artifacts(dir=tmp_path / "out")
    assert (tmp_path / "out" / "big.bin").read_bytes() == data


def test_the_cli_lists_and_downloads(server, token, settings, tmp_path, capsys, monkeypatch):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_bytes(b"x")
    (tmp_path / "d" / "y.txt").write_bytes(b"yy")
    with kiroku.init(capture=False, settings=settings) as run:
        run.log_artifact(tmp_path / "d")
    monkeypatch.setenv("KIROKU_URL", server)
    monkeypatch.setenv("KIROKU_TOKEN", token)

    assert main(["artifacts", "list", run.id]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[-1] for line in lines] == ["d/x.txt", "d/y.txt"]
    assert main(["artifacts", "list", run.id, "--top"]) == 0
    assert capsys.readouterr().out.split() == ["d/"]

    out = tmp_path / "out"
    assert main(["artifacts", "download", run.id, "d", "-o", str(out)]) == 0
    assert "Downloaded 2 file(s), 3 B" in capsys.readouterr().out
    assert _files(out) == {"x.txt": b"x", "y.txt": b"yy"}
    assert main(["artifacts", "download", "0" * 32, "-o", str(out)]) == 1
