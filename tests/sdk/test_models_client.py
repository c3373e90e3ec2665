"""The model registry from the client: ``Run.log_model``, ``Api.model()``,
``ModelVersion.download()`` and ``kiroku models``, against a loopback fake of the
registry's HTTP contract (runs, the artifact upload protocol, models, versions, files,
aliases, promotions). The fake computes manifest digests on its own, from the
contract's words, so the client is checked against the contract rather than itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import kiroku
import pytest
from kiroku.cli import main
from kiroku.registry import ModelRef, model_ref_parse
from kiroku.registry.download import manifest_digest
from kiroku.settings import Settings

from tests.sdk.conftest import FAST

RUN = "e" * 32
TOKEN = "krk_fake_registry_token"
NOT_FOUND = {"error": {"code": "not_found", "message": "no such model", "field": None}}


def contract_digest(manifest: list[dict]) -> str:
    """The contract: sha256 of the canonical JSON (sorted keys, no spaces) of the
    manifest list sorted by path."""
    ordered = sorted(manifest, key=lambda entry: entry["path"])
    return hashlib.sha256(
        json.dumps(ordered, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class FakeRegistry:
    """Project ``vision`` with run RUN, its artifacts and its model registry, in memory.

    ``put_delay``: seconds each storage PUT waits. ``put_faults[artifact path]``:
    statuses its PUTs answer first. ``register_status``: what registering answers
    (None: 201). ``tamper[(name, n, path)]``: bytes served instead of the file's.
    ``listing_lies``: fields merged into every manifest entry of the files listing.
    ``expire_once``: paths whose first GET answers 403. ``protected``: aliases that
    answer 403 alias_protected."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.put_delay = 0.0
        self.put_faults: dict[str, list[int]] = {}
        self.register_status: int | None = None
        self.tamper: dict[tuple[str, int, str], bytes] = {}
        self.listing_lies: dict = {}
        self.expire_once: set[str] = set()
        self.protected: set[str] = set()
        self.artifacts: dict[str, dict] = {}
        self.complete: dict[str, bytes] = {}
        self.registrations: list[tuple[str, dict, set[str]]] = []  # name, body, complete then
        self.models: dict[str, dict] = {}
        self.alias_calls: list[tuple[str, str, str, object]] = []
        self.promotions: list[dict] = []
        self.requests: list[tuple[str, str, str | None]] = []  # method, raw path, auth
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with server.lock:
                    server.requests.append((method, self.path, self.headers.get("Authorization")))
                status, headers, body = server.answer(method, self.path, raw)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_PUT(self):
                self._handle("PUT")

            def do_DELETE(self):
                self._handle("DELETE")

        self._httpd = _Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        # A short poll: shutdown() waits for it, at every test's teardown.
        serve = lambda: self._httpd.serve_forever(poll_interval=0.05)  # noqa: E731
        threading.Thread(target=serve, daemon=True).start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- the registry's state ----------------------------------------------------------

    def add_version(
        self, name: str, files: dict[str, bytes], *, aliases=(), manifest_paths=None
    ) -> dict:
        """A READY version of ``name`` made of ``files`` (path → bytes). With
        ``manifest_paths``, the manifest names those paths instead (a hostile server),
        with a digest that matches them."""
        model = self.models.setdefault(name, {"versions": {}, "aliases": {}, "blobs": {}})
        number = len(model["versions"]) + 1
        paths = manifest_paths or list(files)
        manifest = [
            {
                "path": shown,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "artifact_id": f"{index:032x}",
            }
            for index, (shown, data) in enumerate(zip(paths, files.values(), strict=True))
        ]
        model["blobs"][number] = dict(zip(paths, files.values(), strict=True))
        model["versions"][number] = {
            "model": name,
            "version": number,
            "run_id": RUN,
            "path": f"models/{name}/",
            "status": "READY",
            "flavor": "pytorch",
            "metadata": {"acc": 0.91},
            "description": "",
            "tags": {},
            "manifest": manifest,
            "manifest_digest": contract_digest(manifest),
            "archived": False,
            "created_by": "bob",
            "created_at": "2025-01-02T03:04:05Z",
        }
        for alias in aliases:
            model["aliases"][alias] = number
        return model["versions"][number]

    def version_json(self, name: str, number: int, *, lineage: bool) -> dict:
        model = self.models[name]
        data = dict(model["versions"][number])
        data["aliases"] = sorted(a for a, n in model["aliases"].items() if n == number)
        if lineage:
            data["lineage"] = {
                "run": {
                    "id": RUN,
                    "name": "resnet50-lr3e-4",
                    "status": "FINISHED",
                    "url": f"{self.url}/projects/vision/runs/{RUN}",
                    "git": {"commit": "0123456789abcdef0123", "branch": "main", "dirty": True},
                    "params": {"lr": "0.0003"},
                    "metrics": {"acc": 0.91},
                    "datasets": [{"name": "train", "uri": "s3://d/train", "digest": "d1g"}],
                    "ci_verdict": "passed",
                    "parent_id": None,
                    "group": "sweep-1",
                }
            }
        return data

    # -- the HTTP answers ----------------------------------------------------------------

    def answer(self, method: str, raw_path: str, raw: bytes) -> tuple[int, dict, bytes]:
        parts = urlsplit(raw_path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        # Split before decoding: a model name's "/" arrives as %2F inside one segment.
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        if segments[0] == "store":
            return self.store(segments[1], raw)
        body = json.loads(raw) if raw else {}
        if segments[0] == "blob":
            return self.blob(segments[1], int(segments[2]), "/".join(segments[3:]))
        assert segments[:2] == ["api", "v1"], raw_path
        status, answer = self.api(method, segments[2:], query, body)
        payload = b"" if answer is None else json.dumps(answer).encode()
        return status, {"Content-Type": "application/json"}, payload

    def api(self, method: str, path: list[str], query: dict, body: dict) -> tuple[int, object]:
        if path == ["projects"]:
            return 200, {"results": [{"slug": "vision"}], "next": None}
        if path[0] == "projects" and path[1] != "vision":
            return 404, {"error": {"code": "not_found", "message": "Not found.", "field": None}}
        if path == ["projects", "vision"]:
            return 200, {"slug": "vision", "name": "Vision"}
        if path == ["projects", "vision", "runs"]:
            return 201, {"id": RUN, "url": f"{self.url}/runs/{RUN}", "status": "RUNNING"}
        if path == ["runs", RUN, "artifacts"]:
            with self.lock:
                artifact_id = f"{len(self.artifacts) + 1:032x}"
                self.artifacts[artifact_id] = {**body, "id": artifact_id, "blob": None}
            upload = {"method": "put", "url": f"/store/{artifact_id}", "headers": {}}
            return 201, {**body, "id": artifact_id, "state": "pending", "upload": upload}
        if path[0] == "runs":
            return 200, {}  # log batches, heartbeats, the finish
        if path[0] == "artifacts" and path[2] == "complete":
            artifact = self.artifacts[path[1]]
            with self.lock:
                self.complete[artifact["path"]] = artifact["blob"]
            return 200, {**artifact, "blob": None, "state": "complete"}
        return self.registry(method, path[2:], query, body)

    def registry(self, method: str, path: list[str], query: dict, body: dict):
        if path == ["models"]:
            results = [
                {
                    "name": name,
                    "description": "",
                    "tags": {},
                    "latest_version": max(model["versions"], default=None),
                    "aliases": dict(model["aliases"]),
                }
                for name, model in sorted(self.models.items())
            ]
            return 200, {"results": results, "next": None}
        if path == ["model-versions", "resolve"]:
            ref = model_ref_parse(query["ref"])  # the contract's grammar
            model = self.models.get(ref.name)
            if model is None:
                return 404, NOT_FOUND
            number = ref.version or model["aliases"].get(ref.alias) or max(model["versions"])
            if (ref.alias and ref.alias not in model["aliases"]) or number not in model["versions"]:
                return 404, NOT_FOUND
            return 200, self.version_json(ref.name, number, lineage=True)
        name = path[1]
        if path[2:] == ["versions"] and method == "POST":
            return self.register(name, body)
        model = self.models.get(name)
        if model is None:
            return 404, NOT_FOUND
        if path[2:] == ["versions"]:
            numbers = sorted(model["versions"], reverse=True)
            results = [self.version_json(name, n, lineage=False) for n in numbers]
            return 200, {"results": results, "next": None}
        if path[2] == "versions" and path[4:] == ["files"]:
            return 200, self.files(name, int(path[3]))
        if path[2] == "aliases":
            alias = path[3]
            self.alias_calls.append((method, name, alias, body or query))
            if alias in self.protected:
                return 403, {
                    "error": {
                        "code": "alias_protected",
                        "message": f"alias {alias} is protected",
                        "field": None,
                    }
                }
            if method == "DELETE":
                model["aliases"].pop(alias)
                return 204, None
            model["aliases"][alias] = body["version"]
            return 200, {"alias": alias, "version": body["version"], "protected": False}
        if path[2:] == ["promotions"]:
            self.promotions.append(body)
            return 201, {
                "id": 7,
                "model": name,
                "version": body["version"],
                "alias": body["alias"],
                "reason": body["reason"],
                "status": "open",
            }
        raise AssertionError(path)

    def register(self, name: str, body: dict) -> tuple[int, object]:
        with self.lock:
            self.registrations.append((name, body, set(self.complete)))
        if self.register_status is not None:
            return self.register_status, {
                "error": {"code": "invalid", "message": "refused", "field": "path"}
            }
        prefix = body["path"]
        if prefix.endswith("/"):
            files = {p[len(prefix) :]: d for p, d in self.complete.items() if p.startswith(prefix)}
        else:
            files = {prefix.rsplit("/", 1)[-1]: self.complete[prefix]}
        version = self.add_version(name, files, aliases=body.get("aliases") or ())
        return 201, self.version_json(name, version["version"], lineage=False)

    def files(self, name: str, number: int) -> dict:
        version = self.models[name]["versions"][number]
        manifest = [{**entry, **self.listing_lies} for entry in version["manifest"]]
        files = [
            {
                "path": entry["path"],
                "size": entry["size"],
                "sha256": entry["sha256"],
                "url": f"/blob/{quote(name, safe='')}/{number}/{quote(entry['path'])}",
            }
            for entry in version["manifest"]
        ]
        return {"manifest": manifest, "manifest_digest": version["manifest_digest"], "files": files}

    def blob(self, name: str, number: int, path: str) -> tuple[int, dict, bytes]:
        with self.lock:
            if path in self.expire_once:
                self.expire_once.discard(path)
                return 403, {}, b"<Error><Code>AccessDenied</Code></Error>"
        data = self.tamper.get((name, number, path), self.models[name]["blobs"][number][path])
        return 200, {}, data

    def store(self, artifact_id: str, data: bytes) -> tuple[int, dict, bytes]:
        artifact = self.artifacts[artifact_id]
        with self.lock:
            faults = self.put_faults.get(artifact["path"])
            fault = faults.pop(0) if faults else None
        if self.put_delay:
            time.sleep(self.put_delay)
        if fault is not None:
            return fault, {}, b""
        artifact["blob"] = data
        return 200, {}, b""

    def blob_gets(self) -> list[tuple[str, str | None]]:
        return [(p, auth) for m, p, auth in self.requests if p.startswith("/blob/")]


@pytest.fixture
def fake():
    server = FakeRegistry()
    yield server
    server.close()


@pytest.fixture
def fake_settings(fake, kiroku_dir) -> Settings:
    return Settings(url=fake.url, token=TOKEN, project="vision", dir=kiroku_dir, **FAST)


@pytest.fixture
def api(fake_settings):
    client = kiroku.Api(settings=fake_settings)
    yield client
    client.close()


def _start(settings: Settings, **kwargs) -> kiroku.Run:
    return kiroku.init(capture=False, handle_signals=False, settings=settings, **kwargs)


def _cli(fake: FakeRegistry, *argv: str) -> int:
    return main([*argv, "--url", fake.url, "--token", TOKEN])


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# -- log_model -------------------------------------------------------------------------


def test_log_model_uploads_the_folder_then_registers_it_and_finish_waits(
    fake, fake_settings, tmp_path
):
    (tmp_path / "model" / "sub").mkdir(parents=True)
    (tmp_path / "model" / "weights.pt").write_bytes(b"w" * 3000)
    (tmp_path / "model" / "sub" / "config.json").write_bytes(b"{}")
    fake.put_delay = 0.3
    run = _start(fake_settings)
    run.log_model(
        tmp_path / "model",
        "resnet",
        aliases=["candidate"],
        metadata={"acc": 0.91},
        flavor="pytorch",
        description="first try",
    )
    assert fake.registrations == []  # returns at once
    run.finish()

    uploaded = {"models/resnet/weights.pt", "models/resnet/sub/config.json"}
    assert fake.complete == {
        "models/resnet/weights.pt": b"w" * 3000,
        "models/resnet/sub/config.json": b"{}",
    }
    assert fake.registrations == [
        (
            "resnet",
            {
                "run_id": RUN,
                "path": "models/resnet/",
                "aliases": ["candidate"],
                "flavor": "pytorch",
                "description": "first try",
                "metadata": {"acc": 0.91},
            },
            uploaded,  # every file was complete when the version was registered
        )
    ]
    assert fake.models["resnet"]["aliases"] == {"candidate": 1}


def test_log_model_of_one_file_registers_its_artifact_path_under_an_encoded_name(
    fake, fake_settings, tmp_path
):
    (tmp_path / "model.pt").write_bytes(b"weights")
    run = _start(fake_settings)
    run.log_model(tmp_path / "model.pt", "resnet v2")
    run.finish()

    assert fake.complete == {"models/resnet v2/model.pt": b"weights"}
    ((name, body, _complete),) = fake.registrations
    assert name == "resnet v2"
    assert body == {"run_id": RUN, "path": "models/resnet v2/model.pt"}  # only what was given
    posts = [p for m, p, _a in fake.requests if m == "POST" and p.endswith("/versions")]
    assert posts == ["/api/v1/projects/vision/models/resnet%20v2/versions"]


def test_a_failed_upload_skips_the_registration_and_strict_finish_raises(
    fake, fake_settings, tmp_path, caplog
):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "a.bin").write_bytes(b"a")
    (tmp_path / "model" / "b.bin").write_bytes(b"b")
    fake.put_faults["models/resnet/b.bin"] = [400]
    run = _start(fake_settings, strict=True)
    run.log_model(tmp_path / "model", "resnet")
    with (
        caplog.at_level(logging.WARNING, logger="kiroku"),
        pytest.raises(
            kiroku.InvalidInput,
            match=r"1 artifact file\(s\) not uploaded and 1 model version\(s\) not registered; "
            r"'models/resnet/b.bin'",
        ),
    ):
        run.finish()
    assert fake.registrations == []
    assert "1 model version(s) not registered: resnet: 1 of its file(s) not uploaded" in (
        caplog.text
    )
    assert run.status == "FINISHED"


def test_a_refused_registration_is_reported_and_raised_by_a_strict_finish(
    fake, fake_settings, tmp_path, caplog
):
    (tmp_path / "model.pt").write_bytes(b"weights")
    fake.register_status = 400
    run = _start(fake_settings, strict=True)
    run.log_model(tmp_path / "model.pt", "resnet")
    with (
        caplog.at_level(logging.WARNING, logger="kiroku"),
        pytest.raises(
            kiroku.InvalidInput,
            match=r"^1 model version\(s\) not registered; 'resnet': HTTP 400 invalid \(path\)",
        ),
    ):
        run.finish()
    assert len(fake.registrations) == 1  # a 400 is not retried
    assert "model 'resnet': version not registered: HTTP 400" in caplog.text


def test_a_registration_still_running_when_finish_gives_up_is_reported(
    fake, fake_settings, tmp_path, caplog
):
    (tmp_path / "model.pt").write_bytes(b"weights")
    fake.put_delay = 5.0  # still hanging when finish() stops waiting (no request timeout)
    run = _start(fake_settings.with_overrides(timeout=10.0))
    run.log_model(tmp_path / "model.pt", "resnet")
    with caplog.at_level(logging.WARNING, logger="kiroku"):
        run.finish(timeout=2.0)
    assert fake.registrations == []
    assert "1 model version(s) not registered: resnet: not done before finish() gave up" in (
        caplog.text
    )


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("../x", {}, "model name '../x'"),
        ("/abs", {}, "model name '/abs'"),
        ("a;b", {}, "model name 'a;b'"),
        ("resnet", {"aliases": ["latest"]}, "alias 'latest'"),
        ("resnet", {"aliases": ["Latest"]}, "alias 'Latest'"),
        ("resnet", {"aliases": ["123"]}, "alias '123'"),
        ("resnet", {"aliases": ["has space"]}, "alias 'has space'"),
        ("resnet", {"metadata": {"loss": float("nan")}}, "metadata must be plain JSON"),
        ("resnet", {"metadata": ["not", "a", "dict"]}, "metadata must be a dict"),
        ("resnet", {"flavor": 3}, "flavor must be a string"),
    ],
)
def test_log_model_refuses_bad_arguments_before_uploading(
    fake, fake_settings, tmp_path, name, kwargs, message
):
    (tmp_path / "model.pt").write_bytes(b"weights")
    run = _start(fake_settings, strict=True)
    with pytest.raises(kiroku.InvalidInput, match=f"^log_model\\(\\): {message}"):
        run.log_model(tmp_path / "model.pt", name, **kwargs)
    run.finish()
    assert fake.artifacts == {} and fake.registrations == []


def test_log_model_of_a_missing_path_is_refused(fake, fake_settings, tmp_path):
    run = _start(fake_settings, strict=True)
    with pytest.raises(kiroku.InvalidInput, match="is not a file or directory"):
        run.log_model(tmp_path / "nope", "resnet")
    run.finish()


def test_log_model_offline_records_nothing_and_says_so_once(fake, fake_settings, tmp_path, caplog):
    (tmp_path / "model.pt").write_bytes(b"weights")
    run = _start(fake_settings.with_overrides(mode="offline"))
    with caplog.at_level(logging.WARNING, logger="kiroku"):
        run.log_model(tmp_path / "model.pt", "resnet")
        run.log_model(tmp_path / "model.pt", "resnet")
    run.finish()
    assert caplog.text.count("log_model() records nothing in offline mode") == 1
    assert fake.requests == []


# -- references and digests ----------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "parsed", "canonical"),
    [
        ("resnet", ModelRef("resnet"), "resnet"),
        ("resnet/3", ModelRef("resnet", version=3), "resnet/3"),
        ("resnet@champion", ModelRef("resnet", alias="champion"), "resnet@champion"),
        ("resnet@latest", ModelRef("resnet"), "resnet"),
        ("resnet v2/12", ModelRef("resnet v2", version=12), "resnet v2/12"),
        ("resnet v2@prod-1", ModelRef("resnet v2", alias="prod-1"), "resnet v2@prod-1"),
        ("  resnet/3 ", ModelRef("resnet", version=3), "resnet/3"),
    ],
)
def test_model_references_parse(ref, parsed, canonical):
    assert model_ref_parse(ref) == parsed
    assert str(parsed) == (canonical or ref)


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("", "NAME, NAME/VERSION or NAME@ALIAS"),
        ("resnet/0", "versions are numbered from 1"),
        ("resnet@3", "for version 3 write resnet/3"),
        ("resnet@bad alias", "alias 'bad alias'"),
        ("../x/3", "model name '../x'"),
        ("@champion", "model name ''"),
        ("team/resnet", "must not contain '/'"),
        ("team/resnet/12", "must not contain '/'"),
    ],
)
def test_bad_model_references_are_refused(ref, message):
    with pytest.raises(kiroku.InvalidInput, match=message.replace("(", r"\(")):
        model_ref_parse(ref)


def test_the_manifest_digest_is_the_contracts():
    manifest = [
        {"path": "z.bin", "size": 1, "sha256": "a" * 64},
        {"path": "データ/a.txt", "size": 22, "sha256": "b" * 64, "artifact_id": "1" * 32},
    ]
    assert manifest_digest(manifest) == contract_digest(manifest)
    assert manifest_digest(list(reversed(manifest))) == contract_digest(manifest)


# -- Api.model and download ------------------------------------------------------------


FILES = {"weights.pt": b"w" * 5000, "sub/config.json": b'{"layers": 50}', "empty": b""}


def test_api_model_resolves_a_reference_to_a_typed_version_with_lineage(fake, api):
    fake.add_version("resnet", {"a": b"1"})
    fake.add_version("resnet", FILES, aliases=["champion"])

    version = api.model("resnet@champion")
    assert isinstance(version, kiroku.ModelVersion)
    assert (version.model, version.version, version.run_id, version.status) == (
        "resnet",
        2,
        RUN,
        "READY",
    )
    assert (version.aliases, version.flavor, version.metadata) == (
        ["champion"],
        "pytorch",
        {"acc": 0.91},
    )
    assert [e["path"] for e in version.manifest] == list(FILES)
    assert version.manifest_digest == contract_digest(version.manifest)
    assert version.lineage["run"]["git"]["branch"] == "main"
    assert api.model("resnet/1").version == 1
    assert api.model("resnet@latest", project="vision").version == 2
    resolves = [p for m, p, _a in fake.requests if "/resolve" in p]
    assert resolves[-1] == "/api/v1/projects/vision/model-versions/resolve?ref=resnet"


def test_api_model_without_a_project_says_which_to_pass(fake):
    with (
        kiroku.Api(url=fake.url, token=TOKEN) as client,
        pytest.raises(ValueError, match="project"),
    ):
        client.model("resnet")


def test_a_missing_model_is_a_clear_not_found(fake, api):
    with pytest.raises(kiroku.NotFound) as caught:
        api.model("nope@champion")
    assert caught.value.message == (
        "model version 'nope@champion' not found in project 'vision' (no such model)"
    )


def test_a_project_the_token_cannot_see_is_named(fake, api):
    with pytest.raises(kiroku.NotFound, match=r"project 'visoin' does not exist.*can see: vision"):
        api.model("resnet", project="visoin")


def test_download_writes_every_file_checked_and_storage_never_sees_the_token(fake, api, tmp_path):
    fake.add_version("resnet", FILES)
    target = tmp_path / "out"

    result = api.model("resnet").download(target)

    assert {p.relative_to(target.resolve()).as_posix(): p.read_bytes() for p in result.written} == (
        FILES
    )
    assert result.bytes == sum(len(d) for d in FILES.values()) and result.ok
    assert _tree(target) == {"weights.pt", "sub", "sub/config.json", "empty"}  # no staging left
    assert {auth for _path, auth in fake.blob_gets()} == {None}


def test_an_expired_url_is_replaced_by_a_fresh_listing(fake, api, tmp_path):
    fake.add_version("resnet", FILES)
    fake.expire_once = {"weights.pt"}
    result = api.model("resnet").download(tmp_path / "out")
    assert (tmp_path / "out" / "weights.pt").read_bytes() == FILES["weights.pt"]
    assert len(result.written) == 3
    listings = [p for m, p, _a in fake.requests if p.endswith("/files")]
    assert len(listings) == 2


@pytest.mark.parametrize(
    ("served", "message"),
    [
        (b"w" * 5001, "the storage sent more than the manifest's 5000 bytes"),
        (b"w" * 4999, "got 4999 bytes, the manifest says 5000"),
        (b"x" * 5000, "its sha256 does not match the manifest"),
    ],
)
def test_a_tampered_file_is_refused_and_nothing_is_left(fake, api, tmp_path, served, message):
    fake.add_version("resnet", FILES)
    fake.tamper[("resnet", 1, "weights.pt")] = served
    target = tmp_path / "out"
    target.mkdir()
    (target / "mine.txt").write_bytes(b"untouched")

    with pytest.raises(kiroku.IntegrityError, match=message):
        api.model("resnet/1").download(target)

    # Files downloaded before the bad one were verified, but none is put in place.
    assert _tree(target) == {"mine.txt"}
    assert (target / "mine.txt").read_bytes() == b"untouched"


def test_a_manifest_that_does_not_match_its_digest_is_refused_before_any_download(
    fake, api, tmp_path
):
    fake.add_version("resnet", FILES)
    version = api.model("resnet")
    fake.listing_lies = {"size": 1}  # the listing's manifest no longer hashes to the digest
    with pytest.raises(kiroku.IntegrityError, match="does not match the version's manifest digest"):
        version.download(tmp_path / "out")
    assert fake.blob_gets() == []
    assert _tree(tmp_path / "out") == set()


def test_a_digest_changed_since_resolving_is_refused(fake, api, tmp_path):
    fake.add_version("resnet", FILES)
    version = api.model("resnet")
    version.manifest_digest = "0" * 64  # pinned elsewhere; the server now serves another
    with pytest.raises(kiroku.IntegrityError, match="manifest digest 000000000000"):
        version.download(tmp_path / "out")
    assert fake.blob_gets() == []


@pytest.mark.parametrize(
    "hostile",
    ["../evil", "a/../../evil", "/kiroku-test-evil", "sub/./x", "a\\..\\evil", "C:/evil", ""],
)
def test_a_manifest_path_outside_the_folder_is_refused(fake, api, tmp_path, hostile):
    fake.add_version("resnet", {"x": b"bad"}, manifest_paths=[hostile])
    target = tmp_path / "deep" / "out"
    with pytest.raises(kiroku.IntegrityError, match="refused the manifest path"):
        api.model("resnet").download(target)
    assert fake.blob_gets() == []
    assert not any("evil" in p for p in _tree(tmp_path))
    assert not target.exists() or _tree(target) == set()


def test_a_symlink_in_the_folder_that_leads_out_is_refused(fake, api, tmp_path):
    fake.add_version("resnet", {"link/pwned": b"bad"})
    target = tmp_path / "out"
    target.mkdir()
    (tmp_path / "outside").mkdir()
    (target / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(kiroku.IntegrityError, match="leads outside"):
        api.model("resnet").download(target)
    assert list((tmp_path / "outside").iterdir()) == []
    assert _tree(target) == {"link"}


def test_a_version_that_is_not_ready_has_nothing_to_download(fake, api, tmp_path):
    fake.add_version("resnet", FILES)["status"] = "PENDING_REGISTRATION"
    with pytest.raises(kiroku.InvalidInput, match="resnet/1 is PENDING_REGISTRATION, not READY"):
        api.model("resnet").download(tmp_path / "out")


# -- kiroku models -----------------------------------------------------------------------


def test_cli_models_list(fake, capsys):
    fake.add_version("resnet", {"a": b"1"})
    fake.add_version("resnet", {"a": b"2"}, aliases=["champion"])
    fake.add_version("team/bert", {"a": b"3"}, aliases=["staging"])
    assert _cli(fake, "models", "list", "-p", "vision") == 0
    assert capsys.readouterr().out.splitlines() == [
        "NAME       LATEST  ALIASES",
        "resnet     2       champion=2",
        "team/bert  1       staging=1",
    ]


def test_cli_models_list_of_an_empty_project(fake, capsys):
    assert _cli(fake, "models", "list", "-p", "vision") == 0
    assert capsys.readouterr().out == "No models in vision.\n"


def test_cli_models_show_prints_the_version_and_its_lineage(fake, capsys):
    fake.add_version("resnet", FILES, aliases=["champion"])
    assert _cli(fake, "models", "show", "resnet@champion", "-p", "vision") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:9] == [
        "resnet/1  READY",
        "  aliases   champion",
        f"  run       {RUN}",
        "  path      models/resnet/",
        "  flavor    pytorch",
        "  files     3, 4.9 KiB",
        f"  digest    {contract_digest(fake.models['resnet']['versions'][1]['manifest'])}",
        "  created   2025-01-02 03:04:05 by bob",
        "metadata:",
    ]
    assert lines[9:] == [
        "  acc = 0.91",
        "lineage:",
        f"  run       resnet50-lr3e-4 ({RUN}) FINISHED {fake.url}/projects/vision/runs/{RUN}",
        "  git       main 0123456789ab (dirty)",
        "  group     sweep-1",
        "  ci        passed",
        "  params:",
        "    lr = 0.0003",
        "  metrics (last):",
        "    acc = 0.91",
        "  datasets:",
        "    train  d1g  s3://d/train",
    ]


def test_cli_models_versions(fake, capsys, monkeypatch):
    monkeypatch.setenv("KIROKU_PROJECT", "vision")
    fake.add_version("resnet", {"a": b"1"})
    fake.add_version("resnet", {"a": b"2"}, aliases=["champion"])
    assert _cli(fake, "models", "versions", "resnet") == 0
    assert capsys.readouterr().out.splitlines() == [
        "VERSION  STATUS  ALIASES   RUN                               FLAVOR   CREATED",
        f"2        READY   champion  {RUN}  pytorch  2025-01-02 03:04:05",
        f"1        READY   -         {RUN}  pytorch  2025-01-02 03:04:05",
    ]


def test_cli_models_download(fake, tmp_path, capsys):
    version = fake.add_version("resnet", FILES)
    target = tmp_path / "out"
    assert _cli(fake, "models", "download", "resnet", "--dir", str(target), "-p", "vision") == 0
    assert capsys.readouterr().out == (
        f"Downloaded resnet/1: 3 file(s), 4.9 KiB, to {target} (checked against manifest "
        f"{version['manifest_digest'][:12]}).\n"
    )
    assert (target / "sub" / "config.json").read_bytes() == FILES["sub/config.json"]


def test_cli_models_download_of_a_tampered_file_exits_1_with_one_line(fake, tmp_path, capsys):
    fake.add_version("resnet", FILES)
    fake.tamper[("resnet", 1, "empty")] = b"surprise"
    target = tmp_path / "out"
    assert _cli(fake, "models", "download", "resnet/1", "-d", str(target), "-p", "vision") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "kiroku: error: resnet/1: 'empty': the storage sent more than the manifest's 0 bytes; "
        "nothing installed\n"
    )
    assert _tree(target) == set()


def test_cli_models_alias_set_and_rm(fake, capsys):
    fake.add_version("resnet", {"a": b"1"})
    fake.add_version("resnet", {"a": b"2"})
    assert _cli(fake, "models", "alias", "set", "resnet", "champion", "2", "-p", "vision") == 0
    assert capsys.readouterr().out == "Alias champion of resnet now points at version 2.\n"
    assert fake.models["resnet"]["aliases"] == {"champion": 2}
    argv = ["models", "alias", "rm", "resnet", "champion", "--reason", "rolled back"]
    assert _cli(fake, *argv, "-p", "vision") == 0
    assert capsys.readouterr().out == "Removed alias champion of resnet.\n"
    assert fake.alias_calls == [
        ("PUT", "resnet", "champion", {"version": 2}),
        ("DELETE", "resnet", "champion", {"reason": "rolled back"}),
    ]
    assert fake.models["resnet"]["aliases"] == {}


def test_cli_a_protected_alias_exits_3_and_says_to_promote(fake, capsys):
    fake.add_version("resnet", {"a": b"1"})
    fake.protected = {"prod"}
    argv = ["models", "alias", "set", "resnet", "prod", "1", "--reason", "go", "-p", "vision"]
    assert _cli(fake, *argv) == 3
    assert capsys.readouterr().err == (
        "kiroku: error: alias 'prod' of resnet is protected: ask an admin with "
        '`kiroku models promote resnet 1 prod --reason "..."`\n'
    )


def test_cli_models_promote_opens_a_request(fake, capsys):
    fake.add_version("resnet", {"a": b"1"})
    argv = ["models", "promote", "resnet", "1", "prod", "--reason", "beats v0 by 2 points"]
    assert _cli(fake, *argv, "-p", "vision") == 0
    assert capsys.readouterr().out == (
        "Opened promotion request 7: resnet/1 → prod (open; a project admin decides).\n"
    )
    assert fake.promotions == [{"version": 1, "alias": "prod", "reason": "beats v0 by 2 points"}]


def test_cli_promote_needs_a_reason(fake, capsys):
    with pytest.raises(SystemExit) as exited:
        _cli(fake, "models", "promote", "resnet", "1", "prod", "-p", "vision")
    assert exited.value.code == 2
    assert "--reason" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "code", "error"),
    [
        (
            ["models", "show", "nope", "-p", "vision"],
            1,
            "model version 'nope' not found in project 'vision' (no such model)",
        ),
        (["models", "versions", "nope", "-p", "vision"], 1, "model 'nope' not found in project"),
        (["models", "show", "resnet@3", "-p", "vision"], 2, "'resnet@3': an alias is never"),
        (["models", "list"], 2, "which project? pass -p/--project"),
    ],
)
def test_cli_errors_are_one_clear_line(fake, capsys, argv, code, error):
    assert _cli(fake, *argv) == code
    err = capsys.readouterr().err
    assert err.startswith(f"kiroku: error: {error}") and err.count("\n") == 1
