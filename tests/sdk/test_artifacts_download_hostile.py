"""Downloading artifacts from a server that lies: names that climb out of the folder,
a symlink already in it that leads out, bytes that do not match the listing. Nothing
may be written outside the folder, and every refusal is reported.

The "server" is a loopback http.server that answers the listing, the download
redirects and the bytes; no Kiroku server is involved.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import kiroku
import pytest
from kiroku.cli import main
from kiroku.settings import Settings

RUN = "a" * 32
TOKEN = "krk_hostile_test_token"
QUICK = Settings(backoff_base=0.01, backoff_max=0.05)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the client hangs up on the endless file: that is the point


class HostileServer:
    """Lists ``files`` (name → bytes) as one run's artifacts. ``lies`` overrides
    listing fields of a name; ``extra`` bytes are appended when serving a name.
    Download redirects alternate between a relative Location and an absolute one on
    another origin (``localhost`` instead of ``127.0.0.1``)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.lies: dict[str, dict] = {}
        self.extra: dict[str, bytes] = {}
        self.store_faults: dict[str, list[int]] = {}  # name → statuses its first GETs answer
        self.ids = {name: f"{index:032x}" for index, name in enumerate(files, start=1)}
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Authorization)
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                with server._lock:
                    server.requests.append(("GET", self.path, self.headers.get("Authorization")))
                status, headers, body = server.answer(self.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def entry(self, name: str) -> dict:
        data = self.files[name]
        return {
            "type": "file",
            "name": name.rsplit("/", 1)[-1],
            "path": name,
            "id": self.ids[name],
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "version": 1,
            **self.lies.get(name, {}),
        }

    def answer(self, raw_path: str) -> tuple[int, dict, bytes]:
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query)
        as_json = {"Content-Type": "application/json"}
        if path == f"/api/v1/runs/{RUN}":
            run = {"id": RUN, "name": "hostile", "project": "vision", "status": "FINISHED"}
            return 200, as_json, json.dumps(run).encode()
        if path == f"/api/v1/runs/{RUN}/artifacts":
            names = list(self.files)
            # Two pages, to follow the cursor.
            page = names[len(names) // 2 :] if query.get("cursor") else names[: len(names) // 2]
            listing = {
                "path": "",
                "entries": [self.entry(n) for n in page],
                "next": None if query.get("cursor") else "page2",
            }
            return 200, as_json, json.dumps(listing).encode()
        by_id = {artifact_id: name for name, artifact_id in self.ids.items()}
        if path.startswith("/api/v1/artifacts/") and path.endswith("/download"):
            artifact_id = path.split("/")[4]
            index = list(by_id).index(artifact_id)
            location = (
                f"/store/{artifact_id}"
                if index % 2
                else f"http://localhost:{self.port}/store/{artifact_id}"
            )
            return 302, {"Location": location}, b""
        if path.startswith("/store/"):
            name = by_id[path.split("/")[2]]
            with self._lock:
                faults = self.store_faults.get(name)
                fault = faults.pop(0) if faults else None
            if fault is not None:
                return fault, {"Retry-After": "0"}, b"<Error><Code>AccessDenied</Code></Error>"
            return 200, {}, self.files[name] + self.extra.get(name, b"")
        return 404, as_json, b'{"error": {"code": "not_found", "message": "no", "field": null}}'


GOOD = {
    "good.txt": b"good",
    "nested/deep/file.bin": b"\x00\x01" * 1000,
    "データ/ok.txt": b"unicode",
    "empty": b"",
}


@pytest.fixture
def world(tmp_path):
    """``tmp_path/dir`` (the target, holding a symlink ``link`` to ``tmp_path/outside``
    and ``good.txt``, a symlink to a file there) and a hostile server whose names try
    every way out of it."""
    target = tmp_path / "dir"
    target.mkdir()
    (tmp_path / "outside").mkdir()
    (target / "link").symlink_to(tmp_path / "outside")
    # A file written through this link would overwrite the victim.
    (tmp_path / "outside" / "victim").write_bytes(b"victim")
    (target / "good.txt").symlink_to(tmp_path / "outside" / "victim")
    hostile = {
        "../evil": b"1",
        # An absolute name into tmp_path (not /etc/passwd: a bug must not hurt the host).
        str(tmp_path / "abs-evil"): b"2",
        "a/../../x": b"3",
        "C:\\x": b"4",
        "..\\x": b"5",
        "ok/..": b"6",
        "a\x00b": b"7",
        "link/pwned": b"8",
        "link/deeper/pwned": b"9",
        "\x1b]0;owned\x07": b"10",
    }
    lying = {"bad-sum.bin": b"these are not the bytes listed", "endless.bin": b"short"}
    server = HostileServer({**GOOD, **hostile, **lying})
    server.lies["bad-sum.bin"] = {"sha256": "0" * 64}
    server.extra["endless.bin"] = b"x" * 100_000  # more than the 5 bytes listed
    yield target, server, hostile, lying
    server.close()


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_nothing_is_written_outside_the_folder_and_every_refusal_is_reported(tmp_path, world):
    target, server, hostile, lying = world
    before = _tree(tmp_path)
    with kiroku.Api(url=server.url, token=TOKEN) as api:
        result = api.run(RUN).download_artifacts(dir=target)

    written = {"dir/" + name for name in GOOD}
    folders = {"dir/nested", "dir/nested/deep", "dir/データ"}
    assert _tree(tmp_path) == before | written | folders
    for name, data in GOOD.items():
        assert (target / name).read_bytes() == data
    assert not (target / "good.txt").is_symlink()  # the link was replaced, not written through
    assert (tmp_path / "outside" / "victim").read_bytes() == b"victim"
    assert sorted(result.written) == sorted(target / name for name in GOOD)
    assert result.bytes == sum(len(d) for d in GOOD.values())
    assert sorted(name for name, _why in result.refused) == sorted(hostile)
    assert sorted(name for name, _why in result.failed) == sorted(lying)
    assert not result.ok
    refused = dict(result.refused)
    assert "outside" in refused["link/pwned"] and "outside" in refused["link/deeper/pwned"]


def test_refused_names_are_never_requested_and_storage_never_sees_the_token(world):
    target, server, hostile, _lying = world
    with kiroku.Api(url=server.url, token=TOKEN) as api:
        api.run(RUN).download_artifacts(dir=target)
    downloads = [path for _m, path, _auth in server.requests if path.endswith("/download")]
    assert sorted(downloads) == sorted(
        f"/api/v1/artifacts/{server.ids[name]}/download"
        for name in server.files
        if name not in hostile
    )
    assert all(auth == f"Bearer {TOKEN}" for _m, path, auth in server.requests if "/api/" in path)
    store = [auth for _m, path, auth in server.requests if path.startswith("/store/")]
    assert len(store) == len(server.files) - len(hostile) and set(store) == {None}


def test_a_listed_name_outside_the_requested_path_is_refused(tmp_path):
    server = HostileServer({"models/a.pt": b"a", "other/b.pt": b"b"})
    try:
        with kiroku.Api(url=server.url, token=TOKEN) as api:
            result = api.run(RUN).download_artifacts("models", dir=tmp_path / "out")
    finally:
        server.close()
    assert (tmp_path / "out" / "a.pt").read_bytes() == b"a"
    assert result.refused == [("other/b.pt", "not under the requested path 'models'")]
    assert _tree(tmp_path) == {"out", "out/a.pt"}


def test_the_cli_lists_refusals_escaped_and_exits_1(tmp_path, world, capsys):
    target, server, hostile, lying = world
    code = main(["artifacts", "download", RUN, "-o", str(target), "--url", server.url])
    assert code == 3  # no token configured: an authentication error, before any request
    assert not server.requests
    capsys.readouterr()

    code = main(
        ["artifacts", "download", RUN, "-o", str(target), "--url", server.url, "--token", TOKEN]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert "Downloaded 4 file(s)" in captured.out
    errors = captured.err.splitlines()
    assert len(errors) == len(hostile) + len(lying)
    assert all(line.startswith("kiroku: error: ") for line in errors)
    assert "refused the name 'a\\x00b'" in captured.err
    assert "\x1b" not in captured.err and "\x00" not in captured.err
    assert "not downloaded bad-sum.bin: its sha256 does not match" in captured.err
    assert not list(target.rglob(".kiroku-*"))  # no temporary file left behind


def test_the_cli_lists_the_files_with_names_escaped(world, capsys):
    _target, server, _hostile, _lying = world
    assert main(["artifacts", "list", RUN, "--url", server.url, "--token", TOKEN]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == len(server.files)
    assert "\x1b" not in out and "'a\\x00b'" in out
    assert "nested/deep/file.bin" in out


def test_a_transient_error_or_an_expired_url_is_retried_with_a_fresh_redirect(tmp_path):
    server = HostileServer({"a.bin": b"a" * 100, "b.bin": b"b" * 100})
    server.store_faults = {"a.bin": [503], "b.bin": [403, 500]}
    try:
        with kiroku.Api(url=server.url, token=TOKEN, settings=QUICK) as api:
            result = api.run(RUN).download_artifacts(dir=tmp_path / "out")
    finally:
        server.close()
    assert result.ok
    assert _tree(tmp_path / "out") == {"a.bin", "b.bin"}
    redirects = Counter(p for _m, p, _a in server.requests if p.endswith("/download"))
    assert sorted(redirects.values()) == [2, 3]  # a fresh URL for every try


def test_a_storage_that_keeps_failing_fails_that_file_only(tmp_path):
    server = HostileServer({"a.bin": b"a", "b.bin": b"b"})
    server.store_faults = {"a.bin": [503] * 10}
    try:
        with kiroku.Api(url=server.url, token=TOKEN, settings=QUICK) as api:
            result = api.run(RUN).download_artifacts(dir=tmp_path / "out")
    finally:
        server.close()
    assert [name for name, _why in result.failed] == ["a.bin"]
    assert _tree(tmp_path / "out") == {"b.bin"}
