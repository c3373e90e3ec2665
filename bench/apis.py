"""Thin REST clients for the two tracking servers, as the benchmarks use them.

Each benchmark thread gets its own client (one HTTP connection); request bodies are
encoded before the clock starts, so the figures measure the server, not JSON encoding here.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

TIMEOUT = httpx.Timeout(600.0, connect=10.0)


class BenchError(RuntimeError):
    pass


def _check(response: httpx.Response, *expected: int) -> Any:
    if response.status_code not in expected:
        raise BenchError(
            f"{response.request.method} {response.request.url} -> {response.status_code}: "
            f"{response.text[:500]}"
        )
    return response.json() if response.content else None


class Kiroku:
    """Kiroku's /api/v1, authenticated with a personal token."""

    system = "kiroku"
    max_batch = 10_000

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.token = token

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            timeout=TIMEOUT,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
            },
        )

    def create_container(self, http: httpx.Client, name: str) -> str:
        """Create a project; returns its slug."""
        _check(http.post("/api/v1/projects", json={"slug": name, "name": name}), 201)
        return name

    def create_run(self, http: httpx.Client, container: str, name: str) -> str:
        body = {"name": name, "params": {}, "tags": {}}
        created = _check(http.post(f"/api/v1/projects/{container}/runs", json=body), 201)
        return created["id"]

    def log_body(
        self,
        run: str,
        batch_id: str,
        points: list[tuple[str, int, float]],
        params: dict[str, str] | None = None,
    ) -> bytes:
        # Timestamps as Unix seconds, one per point, as a client stamps them when logging
        # (MLflow's body carries one per point too).
        now = round(time.time(), 3)
        body: dict[str, Any] = {
            "batch_id": batch_id,
            "metrics": [{"key": k, "value": v, "step": s, "timestamp": now} for k, s, v in points],
        }
        if params:
            body["params"] = params
        return json.dumps(body, separators=(",", ":")).encode()

    def log(self, http: httpx.Client, run: str, body: bytes) -> int:
        """Send one encoded batch; returns how many points the server says it stored."""
        answer = _check(http.post(f"/api/v1/runs/{run}/log", content=body), 200)
        stored = answer.get("stored", {}) if isinstance(answer, dict) else {}
        return int(stored.get("metrics", 0)) if isinstance(stored, dict) else 0

    def finish(self, http: httpx.Client, run: str) -> None:
        _check(http.post(f"/api/v1/runs/{run}/finish", json={"status": "finished"}), 200)

    def search(
        self, http: httpx.Client, container: str, filter_text: str, order_by: str, limit: int
    ) -> int:
        """One search request; returns how many runs came back on the first page."""
        query: dict[str, Any] = {"page_size": limit}
        if filter_text:
            query["filter"] = filter_text
        if order_by:
            query["order_by"] = order_by
        answer = _check(http.get(f"/api/v1/projects/{container}/runs", params=query), 200)
        return len(answer["results"])


class MLflow:
    """MLflow's tracking REST API (/api/2.0/mlflow), as its clients call it."""

    system = "mlflow"
    # log-batch refuses more than 1,000 metrics per request.
    max_batch = 1_000

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, timeout=TIMEOUT, headers={"Content-Type": "application/json"}
        )

    def create_container(self, http: httpx.Client, name: str) -> str:
        """Create an experiment; returns its id."""
        created = _check(http.post("/api/2.0/mlflow/experiments/create", json={"name": name}), 200)
        return created["experiment_id"]

    def create_run(self, http: httpx.Client, container: str, name: str) -> str:
        body = {"experiment_id": container, "run_name": name, "start_time": _now_ms()}
        created = _check(http.post("/api/2.0/mlflow/runs/create", json=body), 200)
        return created["run"]["info"]["run_id"]

    def log_body(
        self,
        run: str,
        batch_id: str,
        points: list[tuple[str, int, float]],
        params: dict[str, str] | None = None,
    ) -> bytes:
        del batch_id  # MLflow has no idempotency key
        now = _now_ms()
        body: dict[str, Any] = {
            "run_id": run,
            "metrics": [{"key": k, "value": v, "timestamp": now, "step": s} for k, s, v in points],
        }
        if params:
            body["params"] = [{"key": k, "value": v} for k, v in params.items()]
        return json.dumps(body, separators=(",", ":")).encode()

    def log(self, http: httpx.Client, run: str, body: bytes) -> int:
        _check(http.post("/api/2.0/mlflow/runs/log-batch", content=body), 200)
        return 0

    def finish(self, http: httpx.Client, run: str) -> None:
        body = {"run_id": run, "status": "FINISHED", "end_time": _now_ms()}
        _check(http.post("/api/2.0/mlflow/runs/update", json=body), 200)

    def search(
        self, http: httpx.Client, container: str, filter_text: str, order_by: str, limit: int
    ) -> int:
        body: dict[str, Any] = {"experiment_ids": [container], "max_results": limit}
        if filter_text:
            body["filter"] = filter_text
        if order_by:
            body["order_by"] = [order_by]
        answer = _check(http.post("/api/2.0/mlflow/runs/search", json=body), 200)
        return len(answer.get("runs", []))


def _now_ms() -> int:
    return int(time.time() * 1000)
