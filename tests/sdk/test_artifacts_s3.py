"""The whole artifact path with S3: a training script's ``log_artifact`` puts a model
and a folder into S3 (moto's server mode over real HTTP) without the bytes passing
through Kiroku, the run's listing shows them, and a teammate downloads them with the
CLI through short-lived links."""

from __future__ import annotations

import hashlib
from pathlib import Path

import kiroku
from kiroku.cli import main

from tests.factories import make_token

MIB = 1024 * 1024


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def test_a_model_goes_to_s3_directly_and_a_teammate_downloads_it(
    s3_store, via_proxy, proxy, server, project, viewer, reader, tmp_path, capsys
):
    model = tmp_path / "model.pt"
    with model.open("wb") as handle:  # 100 MiB: a multipart upload of 13 parts
        for block in range(100):
            handle.write(hashlib.sha256(str(block).encode()).digest() * (MIB // 32))
    folder = tmp_path / "eval"
    (folder / "plots").mkdir(parents=True)
    (folder / "report.txt").write_text("accuracy 0.93\n")
    (folder / "plots" / "loss.png").write_bytes(b"\x89PNG fake")
    (folder / "empty.log").write_bytes(b"")

    with kiroku.init(capture=False, settings=via_proxy) as run:
        run.log({"loss": 0.5})
        run.log_artifact(model)
        run.log_artifact(folder)

    # Kiroku saw only JSON calls; every byte of the files went to S3.
    assert [s.method for s in proxy.seen if s.method not in {"GET", "POST"}] == []
    assert all(s.path.startswith("/api/v1/") for s in proxy.seen)
    stored = {
        item["Key"]: item["Size"]
        for item in s3_store.list_objects_v2(Bucket=s3_store.bucket)["Contents"]
    }
    assert sorted(stored.values()) == [0, 9, 14, 100 * MIB]
    assert all(key.startswith(f"runs/{project.pk}/{run.id}/") for key in stored)

    listed = {entry["path"]: entry for entry in reader.run(run.id).artifacts()}
    assert {p: e["size"] for p, e in listed.items()} == {
        "model.pt": 100 * MIB,
        "eval/report.txt": 14,
        "eval/plots/loss.png": 9,
        "eval/empty.log": 0,
    }
    assert listed["model.pt"]["sha256"] == _digest(model)

    out = tmp_path / "teammate"
    teammate = ["--url", server, "--token", make_token(viewer)]
    code = main(["artifacts", "download", run.id, "-o", str(out), "-q", *teammate])
    assert code == 0, capsys.readouterr().err
    assert _digest(out / "model.pt") == _digest(model)
    assert (out / "eval" / "report.txt").read_text() == "accuracy 0.93\n"
    assert (out / "eval" / "plots" / "loss.png").read_bytes() == b"\x89PNG fake"
    assert (out / "eval" / "empty.log").read_bytes() == b""
