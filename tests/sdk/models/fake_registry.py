"""A loopback fake of the model registry's HTTP contract (runs, the artifact upload
protocol, models, versions, files, aliases, promotions) for the client's tests. It
computes manifest digests on its own, from the contract's words, so the client is
checked against the contract rather than itself."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import kiroku
from kiroku.cli import main
from kiroku.registry import model_ref_parse
from kiroku.settings import Settings

RUN = "e" * 32
TOKEN = "krk_fake_registry_token"
# The files of the version most tests register.
FILES = {"weights.pt": b"w" * 5000, "sub/config.json": b'{"layers": 50}', "empty": b""}
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


def start_run(settings: Settings, **kwargs) -> kiroku.Run:
    return kiroku.init(capture=False, handle_signals=False, settings=settings, **kwargs)


def cli(fake: FakeRegistry, *argv: str) -> int:
    return main([*argv, "--url", fake.url, "--token", TOKEN])


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}
