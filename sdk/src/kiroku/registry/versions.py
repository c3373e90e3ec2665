"""Reading the model registry and changing its aliases: typed views of the server's
answers (``RegisteredModel``, ``ModelVersion``, ``ModelAlias``, ``PromotionRequest``)
and the calls behind ``Api.model()``, ``Api.models()`` and the rest.

Every function takes the ``Api`` and the project's slug. A 404 is raised as NotFound
naming what was asked for (or, when the project itself cannot be read, the projects
the token can see); other errors as the read API raises them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from kiroku.errors import InvalidInput, NotFound
from kiroku.registry.refs import ModelRef, alias_clean, model_name_clean, url_name

if TYPE_CHECKING:
    from kiroku.api import Api
    from kiroku.artifacts.download import DownloadResult

READY = "READY"
_MAX_PAGES = 10_000


class ManifestEntry(TypedDict):
    """One file of a version: its path below the version's ``path``, size and sha256
    (the server may add fields, such as the artifact's id; they are kept)."""

    path: str
    size: int
    sha256: str


@dataclass
class RegisteredModel:
    """A model of a project: its versions are numbered from 1; ``aliases`` maps each
    alias to the version it points at (None: a protected alias pointing nowhere yet)."""

    name: str
    latest_version: int | None
    aliases: dict[str, int | None]
    description: str = ""
    tags: dict[str, Any] = field(default_factory=dict)
    created_by: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    data: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class ModelVersion:
    """One registered version: the files under ``path`` among run ``run_id``'s
    artifacts, frozen in ``manifest`` and ``manifest_digest``. ``lineage`` (the source
    run: git, params, metrics, datasets, CI verdict...) comes with a single version
    (``Api.model()``), not with a listing (None there). ``download()`` fetches the
    files and checks them against the manifest."""

    model: str
    version: int
    run_id: str
    aliases: list[str]
    status: str
    flavor: str | None
    metadata: dict[str, Any]
    tags: dict[str, Any]
    manifest: list[ManifestEntry]
    manifest_digest: str
    lineage: dict[str, Any] | None
    project: str = ""
    path: str = ""
    description: str = ""
    archived: bool = False
    created_by: str | None = None
    created_at: str | None = None
    data: dict[str, Any] = field(default_factory=dict, repr=False)
    _api: Api | None = field(default=None, repr=False, compare=False)

    @property
    def ref(self) -> str:
        """``name/version``: the reference that always means this version."""
        return f"{self.model}/{self.version}"

    def download(
        self, dir: str | os.PathLike[str] = ".", *, progress: bool = True
    ) -> DownloadResult:
        """Download the version's files into ``dir``, each at its manifest path, and
        return what was written (``written``, ``bytes``). Every file is checked against
        the manifest (size and sha256) and the manifest against ``manifest_digest``
        before any is put in place: on any mismatch, or a manifest path that would land
        outside ``dir``, IntegrityError is raised and nothing of the version is left in
        ``dir``. Raises InvalidInput for a version that is not READY, and the read
        API's errors."""
        if self._api is None:
            raise ValueError("this ModelVersion is not bound to an Api: get it with Api.model()")
        from kiroku.registry.download import version_download

        return version_download(self._api, self, dir, progress=progress)


@dataclass
class ModelAlias:
    """An alias of a model: the version it points at (None: nowhere yet)."""

    alias: str
    version: int | None
    protected: bool = False
    updated_by: str | None = None
    updated_at: str | None = None


@dataclass
class PromotionRequest:
    """A request that an admin point ``alias`` at ``version`` (status ``open``,
    ``approved`` or ``rejected``)."""

    id: str
    model: str
    version: int
    alias: str
    reason: str
    status: str
    requested_by: str | None = None
    created_at: str | None = None
    data: dict[str, Any] = field(default_factory=dict, repr=False)


# -- parsing the server's answers ---------------------------------------------------


def _unexpected(what: str, detail: str) -> InvalidInput:
    return InvalidInput(f"unexpected answer from the server for {what}: {detail}")


def _object(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _unexpected(what, f"expected an object, got {type(data).__name__}")
    return data


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _model_name(value: Any) -> Any:
    return value.get("name") if isinstance(value, dict) else value


def model_from_json(data: Any) -> RegisteredModel:
    """A RegisteredModel from the server's JSON. Raises InvalidInput when malformed."""
    item = _object(data, "a model")
    name = item.get("name")
    if not isinstance(name, str):
        raise _unexpected("a model", "no name")
    aliases = item.get("aliases") or {}
    if not isinstance(aliases, dict):
        raise _unexpected(f"model {name!r}", "aliases is not an object")
    return RegisteredModel(
        name=name,
        latest_version=_int(item.get("latest_version")),
        aliases={str(alias): _int(version) for alias, version in aliases.items()},
        description=str(item.get("description") or ""),
        tags=dict(item.get("tags") or {}),
        created_by=_text(item.get("created_by")),
        created_at=_text(item.get("created_at")),
        updated_at=_text(item.get("updated_at")),
        data=item,
    )


def version_from_json(data: Any, *, project: str, api: Api | None = None) -> ModelVersion:
    """A ModelVersion from the server's JSON, bound to ``api`` (for ``download()``).
    Raises InvalidInput when malformed."""
    item = _object(data, "a model version")
    model, number = _model_name(item.get("model")), _int(item.get("version"))
    if not isinstance(model, str) or number is None:
        raise _unexpected("a model version", "no model name or version number")
    what = f"{model}/{number}"
    manifest = item.get("manifest") or []
    lineage = item.get("lineage")
    if not isinstance(manifest, list) or not all(isinstance(e, dict) for e in manifest):
        raise _unexpected(what, "the manifest is not a list of objects")
    if lineage is not None and not isinstance(lineage, dict):
        raise _unexpected(what, "lineage is not an object")
    aliases = item.get("aliases") or []
    if not isinstance(aliases, list):
        raise _unexpected(what, "aliases is not a list")
    return ModelVersion(
        model=model,
        version=number,
        run_id=str(item.get("run_id") or ""),
        aliases=[str(alias) for alias in aliases],
        status=str(item.get("status") or ""),
        flavor=_text(item.get("flavor")),
        metadata=dict(item.get("metadata") or {}),
        tags=dict(item.get("tags") or {}),
        manifest=manifest,
        manifest_digest=str(item.get("manifest_digest") or ""),
        lineage=lineage,
        project=project,
        path=str(item.get("path") or ""),
        description=str(item.get("description") or ""),
        archived=bool(item.get("archived")),
        created_by=_text(item.get("created_by")),
        created_at=_text(item.get("created_at")),
        data=item,
        _api=api,
    )


def alias_from_json(data: Any) -> ModelAlias:
    item = _object(data, "an alias")
    return ModelAlias(
        alias=str(item.get("alias") or ""),
        version=_int(item.get("version")),
        protected=bool(item.get("protected")),
        updated_by=_text(item.get("updated_by")),
        updated_at=_text(item.get("updated_at")),
    )


def promotion_from_json(data: Any) -> PromotionRequest:
    item = _object(data, "a promotion request")
    number = _int(item.get("version"))
    if item.get("id") is None or number is None:
        raise _unexpected("a promotion request", "no id or version")
    return PromotionRequest(
        id=str(item["id"]),
        model=str(_model_name(item.get("model")) or ""),
        version=number,
        alias=str(item.get("alias") or ""),
        reason=str(item.get("reason") or ""),
        status=str(item.get("status") or ""),
        requested_by=_text(item.get("requested_by")),
        created_at=_text(item.get("created_at")),
        data=item,
    )


# -- the calls ------------------------------------------------------------------------


def models_path(project: str, name: str | None = None) -> str:
    """``/projects/{project}/models[/{name}]``, the name percent-encoded."""
    base = f"/projects/{project}/models"
    return base if name is None else f"{base}/{url_name(name)}"


def _read(api: Api, project: str, path: str, params: dict[str, Any] | None, what: str) -> Any:
    try:
        return api.get(path, params)
    except NotFound as error:
        raise api.not_found_explained(project, error, what) from None


def _pages(api: Api, project: str, path: str, params: dict[str, Any], what: str) -> list[Any]:
    """Every item of a paged listing (``{"results", "next"}``), following ``next``."""
    items: list[Any] = []
    seen: set[str] = set()
    for _ in range(_MAX_PAGES):
        page = _object(_read(api, project, path, params, what), what)
        results = page.get("results") or []
        if not isinstance(results, list):
            raise _unexpected(what, "results is not a list")
        items += results
        cursor = page.get("next")
        if not cursor:
            return items
        if not isinstance(cursor, str) or cursor in seen:
            raise _unexpected(what, "the listing repeats a page")
        seen.add(cursor)
        params = {**params, "cursor": cursor}
    raise _unexpected(what, "the listing never ends")


def models_list(api: Api, project: str) -> list[RegisteredModel]:
    """The project's models, every page."""
    items = _pages(api, project, models_path(project), {}, f"the models of {project!r}")
    return [model_from_json(item) for item in items]


def versions_list(
    api: Api, project: str, name: str, *, archived: bool = False
) -> list[ModelVersion]:
    """The versions of model ``name``, newest first (archived ones too when
    ``archived``), without lineage."""
    name = model_name_clean(name)
    params = {"archived": "true"} if archived else {}
    path = f"{models_path(project, name)}/versions"
    items = _pages(api, project, path, params, f"model {name!r}")
    return [version_from_json(item, project=project, api=api) for item in items]


def version_resolve(api: Api, project: str, ref: ModelRef) -> ModelVersion:
    """The version ``ref`` names, with its lineage."""
    path = f"/projects/{project}/model-versions/resolve"
    data = _read(api, project, path, {"ref": str(ref)}, f"model version {str(ref)!r}")
    return version_from_json(data, project=project, api=api)


def alias_set(
    api: Api, project: str, name: str, alias: str, version: int, reason: str | None = None
) -> ModelAlias:
    """Point ``alias`` of model ``name`` at ``version`` (creating the alias). Raises
    AuthError with code ``alias_protected`` for a protected alias the caller may not
    move (open a promotion request instead)."""
    name, alias = model_name_clean(name), alias_clean(alias)
    body: dict[str, Any] = {"version": version}
    if reason:
        body["reason"] = reason
    path = f"{models_path(project, name)}/aliases/{alias}"
    try:
        data = api.request("PUT", path, body=body)
    except NotFound as error:
        raise api.not_found_explained(project, error, f"model {name!r} version {version}") from None
    return alias_from_json(data)


def alias_delete(api: Api, project: str, name: str, alias: str, reason: str | None = None) -> None:
    """Remove ``alias`` from model ``name``."""
    name, alias = model_name_clean(name), alias_clean(alias)
    path = f"{models_path(project, name)}/aliases/{alias}"
    try:
        api.request("DELETE", path, params={"reason": reason} if reason else None)
    except NotFound as error:
        raise api.not_found_explained(project, error, f"alias {alias!r} of {name!r}") from None


def promotion_request(
    api: Api, project: str, name: str, version: int, alias: str, reason: str
) -> PromotionRequest:
    """Open a request that an admin point ``alias`` at ``version``. Sent once (a retry
    after a lost answer could open two)."""
    name, alias = model_name_clean(name), alias_clean(alias)
    if not reason or not reason.strip():
        raise InvalidInput("a promotion request needs a reason", field="reason")
    body = {"version": version, "alias": alias, "reason": reason}
    path = f"{models_path(project, name)}/promotions"
    try:
        data = api.request("POST", path, body=body, retry=False)
    except NotFound as error:
        raise api.not_found_explained(project, error, f"model {name!r} version {version}") from None
    return promotion_from_json(data)
