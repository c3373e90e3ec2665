"""Run.log_artifact against a fake Kiroku server that speaks the artifact protocol
and can be told to misbehave (parts that fail, URLs that expire, a storage that hangs,
a run that cannot be created yet). The real server's tests are in
test_artifacts_live.py; these pin what is hard to provoke there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import kiroku
import pytest
from kiroku.artifacts import upload as upload_module
from kiroku.settings import Settings

from tests.sdk.conftest import FAST

RUN = "f" * 32
TOKEN = "krk_fake_upload_token"


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that gives up on a hanging answer


class FakeServer:
    """Runs (create, log, heartbeat, finish) and the artifact protocol, in memory.

    ``threshold``: files above it are multipart with ``part_size`` parts.
    ``faults[(path, part)]``: statuses a storage PUT answers first (part None: a
    single PUT). ``expire``: parts whose first URL answers 403. ``put_delay``: seconds
    each PUT waits before answering. ``refuse_create``: the run create answers 503.
    """

    def __init__(self) -> None:
        self.threshold = 1 << 40
        self.part_size = 1024
        self.faults: dict[tuple[str, int | None], list[int]] = {}
        self.expire: set[int] = set()
        self.put_delay = 0.0
        self.refuse_create = False
        self.lock = threading.Lock()
        self.artifacts: dict[str, dict] = {}
        self.complete: dict[str, bytes] = {}  # artifact path → bytes, once completed
        self.puts: list[tuple[str, int | None, str | None]] = []  # path, part, Authorization
        self.api_auth: set[str | None] = set()
        self.parts_calls: list[dict] = []
        self.finished: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self) -> bytes:
                assert "chunked" not in (self.headers.get("Transfer-Encoding") or "")
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _send(self, status: int, body: object = None, headers: dict | None = None):
                payload = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self):
                raw = self._body()
                server.api_auth.add(self.headers.get("Authorization"))
                status, body = server.api(urlsplit(self.path).path, json.loads(raw or b"{}"))
                self._send(status, body)

            def do_PUT(self):
                data = self._body()
                status, headers = server.store(self.path, data, self.headers.get("Authorization"))
                self._send(status, None, headers)

        self._httpd = _Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- the API ------------------------------------------------------------------------

    def api(self, path: str, body: dict) -> tuple[int, object]:
        if path == "/api/v1/projects/vision/runs":
            if self.refuse_create:
                return 503, {"error": {"code": "down", "message": "down", "field": None}}
            return 201, {"id": RUN, "url": f"{self.url}/runs/{RUN}", "status": "RUNNING"}
        if path == f"/api/v1/runs/{RUN}/finish":
            self.finished.append(body)
            return 200, {}
        if path == f"/api/v1/runs/{RUN}/artifacts":
            return self.declare(body)
        if path.startswith("/api/v1/artifacts/"):
            artifact = self.artifacts[path.split("/")[4]]
            if path.endswith("/parts"):
                self.parts_calls.append(body)
                return 200, {"parts": self.part_urls(artifact, body)}
            return self.finish_upload(artifact, body)
        return 200, {}  # log batches and heartbeats

    def declare(self, body: dict) -> tuple[int, object]:
        with self.lock:
            artifact_id = f"{len(self.artifacts) + 1:032x}"
            artifact = {**body, "id": artifact_id, "blob": None, "parts": {}, "gen": {}}
            self.artifacts[artifact_id] = artifact
        if body["size"] > self.threshold:
            count = max(1, -(-body["size"] // self.part_size))
            artifact["count"] = count
            upload = {"method": "multipart", "part_size": self.part_size, "part_count": count}
            upload["parts"] = []
        else:
            # A path on the server itself, as the local backend answers.
            upload = {"method": "put", "url": f"/store/{artifact_id}", "headers": {"X-Check": "1"}}
        return 201, {**body, "id": artifact_id, "state": "pending", "upload": upload}

    def part_urls(self, artifact: dict, body: dict) -> list[dict]:
        assert len(body["sha256"]) == artifact["count"]
        artifact["part_sha"] = body["sha256"]
        numbers = body.get("numbers") or range(1, artifact["count"] + 1)
        urls = []
        for number in numbers:
            with self.lock:
                gen = artifact["gen"][number] = artifact["gen"].get(number, -1) + 1
            url = f"{self.url}/store/{artifact['id']}/{number}/{gen}"
            urls.append({"number": number, "url": url, "headers": {}})
        return urls

    def finish_upload(self, artifact: dict, body: dict) -> tuple[int, object]:
        if "count" in artifact:
            etags = {p["number"]: p["etag"] for p in body["parts"]}
            numbers = range(1, artifact["count"] + 1)
            if sorted(etags) != list(numbers) or any(
                etags[n] != artifact["parts"].get(n, (None, None))[1] for n in numbers
            ):
                return 400, {"error": {"code": "parts_mismatch", "message": "x", "field": None}}
            data = b"".join(artifact["parts"][n][0] for n in numbers)
        else:
            data = artifact["blob"]
        if data is None:
            return 400, {"error": {"code": "upload_missing", "message": "x", "field": None}}
        if hashlib.sha256(data).hexdigest() != artifact["sha256"]:
            return 400, {"error": {"code": "checksum_mismatch", "message": "x", "field": None}}
        self.complete[artifact["path"]] = data
        return 200, {**artifact, "blob": None, "parts": None, "state": "complete"}

    # -- the storage ----------------------------------------------------------------------

    def store(self, path: str, data: bytes, auth: str | None) -> tuple[int, dict]:
        segments = path.strip("/").split("/")
        artifact = self.artifacts[segments[1]]
        part = int(segments[2]) if len(segments) > 2 else None
        with self.lock:
            self.puts.append((artifact["path"], part, auth))
            queued = self.faults.get((artifact["path"], part))
            fault = queued.pop(0) if queued else None
        if self.put_delay:
            time.sleep(self.put_delay)
        if fault is not None:
            return fault, {}
        if part is None:
            if hashlib.sha256(data).hexdigest() != artifact["sha256"]:
                return 400, {}
            artifact["blob"] = data
            return 200, {"ETag": '"whole"'}
        if part in self.expire and int(segments[3]) == 0:
            return 403, {}
        if hashlib.sha256(data).hexdigest() != artifact["part_sha"][part - 1]:
            return 400, {}
        etag = f'"{hashlib.md5(data).hexdigest()}"'  # noqa: S324 (as S3 does)
        artifact["parts"][part] = (data, etag)
        return 200, {"ETag": etag}


@pytest.fixture
def fake():
    server = FakeServer()
    yield server
    server.close()


@pytest.fixture
def fake_settings(fake, kiroku_dir) -> Settings:
    return Settings(url=fake.url, token=TOKEN, project="vision", dir=kiroku_dir, **FAST)


def _start(settings: Settings, **kwargs) -> kiroku.Run:
    return kiroku.init(capture=False, handle_signals=False, settings=settings, **kwargs)


def _puts(fake: FakeServer, path: str) -> dict[int | None, int]:
    counts: dict[int | None, int] = {}
    for name, part, _auth in fake.puts:
        if name == path:
            counts[part] = counts.get(part, 0) + 1
    return counts


def test_files_and_folders_are_uploaded_and_the_token_never_reaches_storage(
    fake, fake_settings, tmp_path
):
    (tmp_path / "model.pt").write_bytes(b"weights")
    (tmp_path / "ckpt" / "sub").mkdir(parents=True)
    (tmp_path / "ckpt" / "a").write_bytes(b"a" * 5000)
    (tmp_path / "ckpt" / "sub" / "empty").write_bytes(b"")
    run = _start(fake_settings)
    run.log_artifact(tmp_path / "model.pt")
    run.log_artifact(tmp_path / "ckpt", name="checkpoints")
    run.finish()

    assert fake.complete == {
        "model.pt": b"weights",
        "checkpoints/a": b"a" * 5000,
        "checkpoints/sub/empty": b"",
    }
    assert {auth for _path, _part, auth in fake.puts} == {None}
    assert fake.api_auth == {f"Bearer {TOKEN}"}
    assert fake.finished and fake.finished[0]["status"] == "finished"


def test_a_multipart_part_that_fails_is_retried_alone(fake, fake_settings, tmp_path):
    fake.threshold, fake.part_size = 1000, 1000
    data = bytes(range(256)) * 20  # 5,120 bytes: 6 parts, the last one short
    (tmp_path / "big.bin").write_bytes(data)
    fake.faults[("big.bin", 2)] = [503]
    fake.faults[("big.bin", 5)] = [500, 429]
    run = _start(fake_settings)
    run.log_artifact(tmp_path / "big.bin")
    run.finish()

    assert fake.complete == {"big.bin": data}
    assert _puts(fake, "big.bin") == {1: 1, 2: 2, 3: 1, 4: 1, 5: 3, 6: 1}
    assert len(fake.parts_calls) == 1  # no new URLs were needed


def test_an_expired_part_url_is_renewed_for_that_part_only(fake, fake_settings, tmp_path):
    fake.threshold, fake.part_size = 1000, 1000
    data = b"z" * 3500
    (tmp_path / "big.bin").write_bytes(data)
    fake.expire = {3}
    run = _start(fake_settings)
    run.log_artifact(tmp_path / "big.bin")
    run.finish()

    assert fake.complete == {"big.bin": data}
    assert _puts(fake, "big.bin") == {1: 1, 2: 1, 3: 2, 4: 1}
    first, renewal = fake.parts_calls
    assert "numbers" not in first and renewal["numbers"] == [3]
    assert renewal["sha256"] == first["sha256"]  # all of them, always


def test_a_single_put_refused_with_403_is_retried_then_reported(
    fake, fake_settings, tmp_path, caplog
):
    (tmp_path / "model.pt").write_bytes(b"weights")
    fake.faults[("model.pt", None)] = [403] * 10
    run = _start(fake_settings)
    with caplog.at_level(logging.WARNING, logger="kiroku"):
        run.log_artifact(tmp_path / "model.pt")
        run.finish()

    assert _puts(fake, "model.pt") == {None: 3}
    assert len(fake.artifacts) == 1  # never declared again (that would be a new version)
    assert fake.complete == {}
    assert "URL may have expired" in caplog.text
    assert fake.finished  # the run still ended


def test_strict_finish_raises_once_the_run_has_ended(fake, fake_settings, tmp_path):
    (tmp_path / "model.pt").write_bytes(b"weights")
    fake.faults[("model.pt", None)] = [400]
    run = _start(fake_settings, strict=True)
    run.log_artifact(tmp_path / "model.pt")
    with pytest.raises(kiroku.InvalidInput, match=r"1 artifact file\(s\) not uploaded; 'model.pt'"):
        run.finish()
    assert fake.finished and run.status == "FINISHED"


def test_uploads_wait_for_a_run_created_late(fake, fake_settings, tmp_path):
    (tmp_path / "model.pt").write_bytes(b"weights")
    fake.refuse_create = True
    run = _start(fake_settings)
    assert run.id is None
    run.log_artifact(tmp_path / "model.pt")
    time.sleep(0.5)
    assert not fake.artifacts  # nothing declared before the run exists
    fake.refuse_create = False
    run.finish()
    assert run.id == RUN
    assert fake.complete == {"model.pt": b"weights"}


def test_finish_gives_up_on_uploads_at_its_timeout_and_says_so(
    fake, fake_settings, tmp_path, caplog
):
    (tmp_path / "model.pt").write_bytes(b"weights")
    fake.put_delay = 5.0
    run = _start(fake_settings)
    run.log_artifact(tmp_path / "model.pt")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="kiroku"):
        run.finish(timeout=2.0)
    assert time.monotonic() - started < 4.0
    assert "1 artifact file(s) not uploaded: model.pt: not uploaded before finish() gave up" in (
        caplog.text
    )
    assert fake.finished  # the finish was still sent


def test_a_large_upload_shows_a_progress_line(fake, fake_settings, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(upload_module, "PROGRESS_BYTES", 1000)
    (tmp_path / "model.pt").write_bytes(b"w" * 4000)
    fake.put_delay = 0.3  # still uploading when finish() starts waiting
    run = _start(fake_settings)
    run.log_artifact(tmp_path / "model.pt")
    deadline = time.monotonic() + 5.0
    while run._uploader._total_bytes < 4000:  # listed, so its size is known
        assert time.monotonic() < deadline
        time.sleep(0.01)
    run.finish()
    assert "kiroku: uploading artifacts [####################] 100% 4,000/4,000 bytes" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("mode", ["offline", "disabled"])
def test_offline_and_disabled_runs_warn_once_and_record_nothing(
    fake, fake_settings, tmp_path, caplog, mode
):
    (tmp_path / "model.pt").write_bytes(b"weights")
    run = _start(fake_settings, mode=mode)
    with caplog.at_level(logging.WARNING, logger="kiroku"):
        run.log_artifact(tmp_path / "model.pt")
        run.log_artifact(tmp_path / "model.pt")
        run.finish()
    assert caplog.text.count(f"log_artifact() records nothing in {mode} mode") == 1
    assert not fake.artifacts and not fake.puts


def test_a_missing_path_is_reported_and_raised_under_strict(fake, fake_settings, tmp_path, caplog):
    run = _start(fake_settings)
    with caplog.at_level(logging.WARNING, logger="kiroku"):
        run.log_artifact(tmp_path / "missing.pt")
    assert "is not a file or directory" in caplog.text
    run.finish()

    strict = _start(fake_settings, strict=True)
    with pytest.raises(kiroku.InvalidInput, match="is not a file or directory"):
        strict.log_artifact(tmp_path / "missing.pt")
    strict.finish()
    assert not fake.artifacts


def test_log_artifact_after_finish_is_ignored(fake, fake_settings, tmp_path, caplog):
    (tmp_path / "model.pt").write_bytes(b"weights")
    run = _start(fake_settings)
    run.finish()
    with caplog.at_level(logging.WARNING, logger="kiroku"):
        run.log_artifact(tmp_path / "model.pt")
    assert "log_artifact() after finish() is ignored" in caplog.text
    assert not fake.artifacts
