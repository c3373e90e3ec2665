"""Reading runs back, for scripts and notebooks (MLflow's ``search_runs``, W&B's
``wandb.Api()``)::

    api = kiroku.Api()
    for run in api.runs("vision", filter="metrics.acc > 0.9", order_by="metrics.acc DESC"):
        print(run.name, run.params["lr"], run.metrics["acc"])
    df = api.runs("vision").to_pandas()          # needs pandas
    points = api.run(run_id).history("loss", max_points=500)
    api.run(run_id).download_artifacts("checkpoints", dir="restore/")
    api.model("resnet@champion", project="vision").download("model/")  # checked files

Errors are raised as ``kiroku.errors`` exceptions (AuthError, NotFound, InvalidInput
for a bad filter, Unreachable when the server keeps failing).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from typing import Any

from kiroku.artifacts.download import DownloadResult, download_artifacts, list_artifacts
from kiroku.errors import NotFound
from kiroku.keys import number_decode
from kiroku.projects import project_error_explained, project_unknown_error
from kiroku.registry import versions as registry
from kiroku.registry.refs import model_ref_parse
from kiroku.registry.versions import ModelAlias, ModelVersion, PromotionRequest, RegisteredModel
from kiroku.settings import Settings, settings_resolve
from kiroku.transport import Transport

API_PREFIX = "/api/v1"


def _number(value: Any) -> float | None:
    return None if value is None else number_decode(value)


class Api:
    """A client for the read API. ``url``/``token`` default as for ``kiroku.init()``."""

    def __init__(
        self, url: str | None = None, token: str | None = None, *, settings: Settings | None = None
    ) -> None:
        self.settings = settings_resolve(url=url, token=token, base=settings)
        self._transport = Transport(self.settings)

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``/api/v1{path}``; the JSON answer. Transient failures are retried for
        ``settings.init_timeout`` seconds."""
        return self.request("GET", path, params=params)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        retry: bool = True,
    ) -> Any:
        """``method`` ``/api/v1{path}``; the JSON answer (None for an empty one).
        Transient failures are retried for ``settings.init_timeout`` seconds, unless
        ``retry`` is False (a request that must not be sent twice: one attempt)."""
        if path.startswith(API_PREFIX):
            path = path[len(API_PREFIX) :]
        if not retry:
            reply = self._transport.request(method, path, body=body, params=params)
            if not reply.ok:
                raise reply.error()
            return reply.data
        deadline = time.monotonic() + self.settings.init_timeout
        return self._transport.call(method, path, body=body, params=params, deadline=deadline)

    def not_found_explained(self, project: str, error: NotFound, what: str) -> NotFound:
        """A NotFound for ``what`` (a 404 met in ``project``): naming the projects the
        token can see when the project itself cannot be read, else saying what was not
        found with the server's words."""
        explained = project_error_explained(self._transport, project, error)
        if explained is not error:
            return explained
        return NotFound(
            f"{what} not found in project {project!r} ({error.message})",
            status=404,
            code=error.code,
            field=error.field,
        )

    def me(self) -> dict[str, Any]:
        """Who the token belongs to (``GET /me``)."""
        me: dict[str, Any] = self.get("/me")
        return me

    def project(self, slug: str) -> dict[str, Any]:
        """The project ``slug`` (``GET /projects/{slug}``). Raises NotFound naming the
        projects the token can see when it cannot see this one."""
        try:
            project: dict[str, Any] = self.get(f"/projects/{slug}")
        except NotFound:
            raise project_unknown_error(self._transport, slug) from None
        return project

    def runs(
        self,
        project: str | None = None,
        filter: str = "",
        order_by: str = "",
        *,
        page_size: int = 100,
        columns: str | list[str] | None = None,
    ) -> Runs:
        """The project's runs matching ``filter`` (the server's search language), in
        ``order_by`` order, fetched a page at a time as you iterate."""
        project = project or self.settings.project
        if not project:
            raise ValueError("which project? pass runs('slug') or set KIROKU_PROJECT")
        params: dict[str, Any] = {"page_size": page_size}
        if filter:
            params["filter"] = filter
        if order_by:
            params["order_by"] = order_by
        if columns:
            params["columns"] = columns if isinstance(columns, str) else ",".join(columns)
        return Runs(self, project, params)

    def run(self, run_id: str) -> ApiRun:
        """One run by its server id, with its summary, datasets and git diff."""
        return ApiRun(self, self.get(f"/runs/{run_id}"), detailed=True)

    # -- the model registry --------------------------------------------------------------

    def _project(self, project: str | None) -> str:
        project = project or self.settings.project
        if not project:
            raise ValueError("which project? pass project='slug' or set KIROKU_PROJECT")
        return project

    def model(self, ref: str, project: str | None = None) -> ModelVersion:
        """The model version ``ref`` names: ``"resnet@champion"`` (an alias),
        ``"resnet/3"`` (a version) or ``"resnet"`` (the latest one not archived), with
        its lineage; ``.download(dir)`` fetches its files, checked. ``project``
        defaults to the settings' (``KIROKU_PROJECT``). Raises InvalidInput for a
        malformed ``ref``, NotFound saying what is missing."""
        return registry.version_resolve(self, self._project(project), model_ref_parse(ref))

    def models(self, project: str | None = None) -> list[RegisteredModel]:
        """The project's registered models (name, latest version, aliases...)."""
        return registry.models_list(self, self._project(project))

    def model_versions(
        self, name: str, project: str | None = None, *, archived: bool = False
    ) -> list[ModelVersion]:
        """The versions of model ``name``, newest first; archived ones too when
        ``archived``. Without lineage (``model("name/n")`` has it)."""
        return registry.versions_list(self, self._project(project), name, archived=archived)

    def model_alias_set(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        reason: str | None = None,
        project: str | None = None,
    ) -> ModelAlias:
        """Point ``alias`` of model ``name`` at ``version`` (members; a protected alias
        answers AuthError with code ``alias_protected``: request a promotion)."""
        project = self._project(project)
        return registry.alias_set(self, project, name, alias, version, reason)

    def model_alias_delete(
        self, name: str, alias: str, *, reason: str | None = None, project: str | None = None
    ) -> None:
        """Remove ``alias`` from model ``name``."""
        registry.alias_delete(self, self._project(project), name, alias, reason)

    def model_promotion_request(
        self, name: str, version: int, alias: str, reason: str, *, project: str | None = None
    ) -> PromotionRequest:
        """Ask the project's admins to point ``alias`` at ``version``; the request
        opened (status ``open``)."""
        project = self._project(project)
        return registry.promotion_request(self, project, name, version, alias, reason)


class Runs:
    """An iterable of ApiRun over every page of a search."""

    def __init__(self, api: Api, project: str, params: dict[str, Any]) -> None:
        self._api = api
        self.project = project
        self._params = params

    def __iter__(self) -> Iterator[ApiRun]:
        params = dict(self._params)
        while True:
            page = self._api.get(f"/projects/{self.project}/runs", params)
            for data in page["results"]:
                yield ApiRun(self._api, data)
            if not page.get("next"):
                return
            params["cursor"] = page["next"]

    def to_pandas(self) -> Any:
        """A DataFrame, one row per run: id, name, status, author, group, times, then
        ``params.<key>``, ``metrics.<key>`` (last value) and ``tags.<key>`` columns."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_pandas() needs pandas: pip install 'kiroku[pandas]'") from None
        return pd.DataFrame([run.flat() for run in self])


class ApiRun:
    """A run as the server describes it. ``params`` and ``tags`` are text; ``metrics``
    maps each key to its last value (NaN as ``float('nan')``), ``metric_summaries`` to
    ``{last, min, max, count, last_step, last_timestamp}``: all of them, always (a
    search result with more keys than a listing carries reads the rest on first use).
    ``summary`` and ``datasets`` are fetched on first use when the run came from a
    search."""

    def __init__(self, api: Api, data: dict[str, Any], *, detailed: bool = False) -> None:
        self._api = api
        self.data = data
        self._detailed = detailed

    def __repr__(self) -> str:
        return f"<kiroku.ApiRun {self.project}/{self.name} id={self.id} {self.status}>"

    def __getattr__(self, name: str) -> Any:
        # id, name, project, status, url, group, author, client_id, notes, git,
        # environment, created_at, started_at, ended_at, duration, parent_id...
        data = self.__dict__.get("data") or {}
        if name in data:
            return data[name]
        raise AttributeError(name)

    def _detail(self) -> dict[str, Any]:
        if not self._detailed:
            self.data = self._api.get(f"/runs/{self.data['id']}")
            self._detailed = True
        return self.data

    def _all(self, kind: str) -> dict[str, Any]:
        """The run's ``params``, ``tags`` or ``metrics``, every one of them: a search
        without ``columns`` carries a run's first keys of each kind only, and says
        which it cut (``truncated``); those are read from the run itself, once."""
        if (self.data.get("truncated") or {}).get(kind):
            self._detail()
        return dict(self.data.get(kind) or {})

    @property
    def params(self) -> dict[str, str]:
        return self._all("params")

    @property
    def tags(self) -> dict[str, str]:
        return self._all("tags")

    @property
    def metric_summaries(self) -> dict[str, dict[str, Any]]:
        result = {}
        for key, summary in self._all("metrics").items():
            decoded = dict(summary)
            for name in ("last", "min", "max"):
                decoded[name] = _number(summary.get(name))
            result[key] = decoded
        return result

    @property
    def metrics(self) -> dict[str, float | None]:
        return {key: s["last"] for key, s in self.metric_summaries.items()}

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self._detail().get("summary") or {})

    @property
    def datasets(self) -> list[dict[str, Any]]:
        return list(self._detail().get("datasets") or [])

    def refresh(self) -> ApiRun:
        self._detailed = False
        self._detail()
        return self

    def history(self, key: str, max_points: int | None = None) -> list[dict[str, Any]]:
        """The series of ``key`` as ``[{"step", "value", "timestamp"}]`` in step order:
        every point, or at most ``max_points``, 4 or more (the server keeps the first
        and last points and each bucket's min and max). Values are floats (NaN as
        ``float('nan')``)."""
        params: dict[str, Any] | None = {"key": key}
        if max_points is not None:
            params = {"key": key, "max_points": max_points}
        else:
            params = {"key": key, "page_size": 10_000}
        points: list[dict[str, Any]] = []
        path: str | None = f"/runs/{self.data['id']}/metrics/history"
        while path:
            page = self._api.get(path, params)
            points += [
                {"step": p["step"], "value": number_decode(p["value"]), "timestamp": p["timestamp"]}
                for p in page["results"]
            ]
            path, params = page.get("next"), None
        return points

    def artifacts(self, path: str | None = None, recursive: bool = True) -> list[dict[str, Any]]:
        """The run's artifacts under ``path`` (default: all), every page: for each
        file ``{"type": "file", "path", "name", "id", "size", "sha256", "version",
        "content_type", "created_at", "completed_at"}`` (the latest complete version
        per path); with ``recursive=False``, the files and folders (``{"type": "dir",
        "path", "name", "size", "files"}``) directly in ``path``."""
        return list_artifacts(self._api, self.data["id"], path, recursive=recursive)

    def download_artifacts(
        self, path: str | None = None, dir: str | os.PathLike[str] = ".", *, progress: bool = True
    ) -> DownloadResult:
        """Download the files under ``path`` (default: all) into ``dir``, each at its
        path below ``path`` (a ``path`` that names one file: as its basename). Each
        file is checked against the listing's size and sha256 before it is renamed
        into place. Names that would land outside ``dir`` (absolute, ``..``, through a
        symlink...) are refused. Returns a ``DownloadResult``: ``written``, ``refused``
        and ``failed`` (both logged too), and ``ok``. Raises NotFound when nothing is
        under ``path``, and the errors of the read API."""
        return download_artifacts(self._api, self.data["id"], path, dir, progress=progress)

    def flat(self) -> dict[str, Any]:
        """One flat row (what ``Runs.to_pandas()`` builds from)."""
        row: dict[str, Any] = {
            name: self.data.get(name)
            for name in (
                "id",
                "name",
                "status",
                "author",
                "group",
                "created_at",
                "started_at",
                "ended_at",
                "duration",
            )
        }
        row.update({f"params.{k}": v for k, v in self.params.items()})
        row.update(
            {f"metrics.{k}": (math.nan if v is None else v) for k, v in self.metrics.items()}
        )
        row.update({f"tags.{k}": v for k, v in self.tags.items()})
        return row
