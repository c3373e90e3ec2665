"""``kiroku models``: the project's model registry.

``list`` (each model's latest version and aliases), ``show REF`` (one version and its
lineage), ``versions NAME``, ``download REF --dir DIR`` (every file checked against the
manifest before any is put in place), ``alias set``/``alias rm`` and ``promote`` (a
promotion request for an admin to decide). REF is ``NAME``, ``NAME/VERSION`` or
``NAME@ALIAS``. The project comes from ``-p``, else ``KIROKU_PROJECT``, else the one
``kiroku login --project`` saved. Text from the server is printed escaped when it holds
anything but printable characters. Exit codes as for every command: a download that
does not match its manifest exits 1, a protected alias 3.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from typing import Any

from kiroku.api import Api
from kiroku.cli.common import OK, Subcommands, api_open, line_print, shown, size_text
from kiroku.errors import AuthError, ConfigError
from kiroku.registry.versions import ModelVersion

_WIDTH = 40
ALIAS_PROTECTED = "alias_protected"


def _project(args: argparse.Namespace, api: Api) -> str:
    project: str | None = args.project or api.settings.project
    if not project:
        raise ConfigError(
            "which project? pass -p/--project, set KIROKU_PROJECT, or save one with "
            "`kiroku login --project SLUG`"
        )
    return project


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    text = shown(value)
    return text if len(text) <= _WIDTH else text[: _WIDTH - 3] + "..."


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        line_print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _time(value: Any) -> str:
    return str(value or "")[:19].replace("T", " ")


def _mapping(title: str, mapping: Mapping[str, Any], indent: str = "") -> None:
    if mapping:
        line_print(f"{indent}{title}:")
        for key in sorted(mapping):
            line_print(f"{indent}  {shown(key)} = {shown(mapping[key])}")


def cmd_models_list(args: argparse.Namespace) -> int:
    with api_open(args) as api:
        project = _project(args, api)
        models = api.models(project)
    if args.json:
        for model in models:
            line_print(json.dumps(model.data))
        return OK
    if not models:
        line_print(f"No models in {project}.")
        return OK
    rows = [
        [
            _cell(model.name),
            _cell(model.latest_version),
            _cell(", ".join(f"{a}={'-' if v is None else v}" for a, v in model.aliases.items())),
        ]
        for model in models
    ]
    _table(["NAME", "LATEST", "ALIASES"], rows)
    return OK


def _lineage_print(lineage: Mapping[str, Any]) -> None:
    run = lineage.get("run")
    if not isinstance(run, Mapping):
        return
    line_print("lineage:")
    parts = [run.get("name"), f"({run.get('id')})", run.get("status"), run.get("url")]
    line_print(f"  run       {' '.join(shown(p) for p in parts if p)}")
    git = run.get("git") or {}
    if isinstance(git, Mapping) and git.get("commit"):
        dirty = " (dirty)" if git.get("dirty") else ""
        branch = f"{shown(git.get('branch'))} " if git.get("branch") else ""
        line_print(f"  git       {branch}{shown(str(git['commit'])[:12])}{dirty}")
    for label, key in (("group", "group"), ("parent", "parent_id"), ("ci", "ci_verdict")):
        if run.get(key):
            line_print(f"  {label:<9} {shown(run[key])}")
    for title, key in (("params", "params"), ("metrics (last)", "metrics")):
        value = run.get(key)
        if isinstance(value, Mapping):
            _mapping(title, value, indent="  ")
    datasets = run.get("datasets")
    if isinstance(datasets, list) and datasets:
        line_print("  datasets:")
        for d in (d for d in datasets if isinstance(d, Mapping)):
            digest = d.get("digest") or "(no hash)"
            line_print(f"    {shown(d.get('name'))}  {shown(digest)}  {shown(d.get('uri'))}")


def _version_print(version: ModelVersion) -> None:
    archived = " (archived)" if version.archived else ""
    line_print(f"{shown(version.ref)}  {shown(version.status)}{archived}")
    size = sum(e["size"] for e in version.manifest if isinstance(e.get("size"), int))
    created = _time(version.created_at)
    if version.created_by:
        created += f" by {version.created_by}"
    for label, value in (
        ("aliases", ", ".join(version.aliases)),
        ("run", version.run_id),
        ("path", version.path),
        ("flavor", version.flavor),
        ("files", f"{len(version.manifest)}, {size_text(size)}"),
        ("digest", version.manifest_digest),
        ("created", created),
        ("notes", version.description),
    ):
        if value:
            line_print(f"  {label:<9} {shown(value)}")
    _mapping("metadata", version.metadata)
    _mapping("tags", version.tags)
    if version.lineage:
        _lineage_print(version.lineage)


def cmd_models_show(args: argparse.Namespace) -> int:
    with api_open(args) as api:
        version = api.model(args.ref, _project(args, api))
    if args.json:
        line_print(json.dumps(version.data, indent=2))
    else:
        _version_print(version)
    return OK


def cmd_models_versions(args: argparse.Namespace) -> int:
    with api_open(args) as api:
        versions = api.model_versions(args.name, _project(args, api), archived=args.archived)
    if args.json:
        for version in versions:
            line_print(json.dumps(version.data))
        return OK
    if not versions:
        line_print(f"No versions of {shown(args.name)}.")
        return OK
    rows = [
        [
            str(v.version),
            v.status + (" (archived)" if v.archived else ""),
            _cell(", ".join(v.aliases)),
            _cell(v.run_id),
            _cell(v.flavor),
            _cell(_time(v.created_at)),
        ]
        for v in versions
    ]
    _table(["VERSION", "STATUS", "ALIASES", "RUN", "FLAVOR", "CREATED"], rows)
    return OK


def cmd_models_download(args: argparse.Namespace) -> int:
    with api_open(args) as api:
        version = api.model(args.ref, _project(args, api))
        result = version.download(args.dir, progress=not args.quiet)
    line_print(
        f"Downloaded {shown(version.ref)}: {len(result.written)} file(s), "
        f"{size_text(result.bytes)}, to {args.dir} (checked against manifest "
        f"{version.manifest_digest[:12]})."
    )
    return OK


def cmd_models_alias_set(args: argparse.Namespace) -> int:
    with api_open(args) as api:
        try:
            alias = api.model_alias_set(
                args.name, args.alias, args.version, reason=args.reason, project=_project(args, api)
            )
        except AuthError as exc:
            if exc.code != ALIAS_PROTECTED:
                raise
            raise AuthError(
                f"alias {args.alias!r} of {shown(args.name)} is protected: ask an admin with "
                f"`kiroku models promote {shown(args.name)} {args.version} {args.alias} "
                '--reason "..."`',
                status=exc.status,
                code=exc.code,
            ) from None
    line_print(
        f"Alias {shown(alias.alias or args.alias)} of {shown(args.name)} now points at "
        f"version {alias.version if alias.version is not None else args.version}."
    )
    return OK


def cmd_models_alias_rm(args: argparse.Namespace) -> int:
    with api_open(args) as api:
        api.model_alias_delete(
            args.name, args.alias, reason=args.reason, project=_project(args, api)
        )
    line_print(f"Removed alias {args.alias} of {shown(args.name)}.")
    return OK


def cmd_models_promote(args: argparse.Namespace) -> int:
    with api_open(args) as api:
        request = api.model_promotion_request(
            args.name, args.version, args.alias, args.reason, project=_project(args, api)
        )
    line_print(
        f"Opened promotion request {shown(request.id)}: {shown(args.name)}/{request.version} "
        f"{'→'} {shown(request.alias)} ({shown(request.status)}; a project admin decides)."
    )
    return OK


def _version_number(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a version number is 1 or more, not {text!r}")
    return int(text)


def add_commands(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    """Add ``models list|show|versions|download|alias set|alias rm|promote``."""
    scoped = argparse.ArgumentParser(add_help=False, parents=[common])
    scoped.add_argument(
        "-p",
        "--project",
        help="the project's slug (default: KIROKU_PROJECT, then `kiroku login --project`)",
    )
    ref_help = "NAME, NAME/VERSION or NAME@ALIAS (NAME alone: the latest version)"
    models = commands.add_parser("models", help="the model registry: list, show, download...")
    sub = models.add_subparsers(dest="models_command", required=True, metavar="COMMAND")

    listing = sub.add_parser("list", parents=[scoped], help="the project's models")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(handler=cmd_models_list)

    show = sub.add_parser("show", parents=[scoped], help="one version and its lineage")
    show.add_argument("ref", metavar="REF", help=ref_help)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_models_show)

    versions = sub.add_parser("versions", parents=[scoped], help="a model's versions")
    versions.add_argument("name", metavar="NAME")
    versions.add_argument("--archived", action="store_true", help="archived versions too")
    versions.add_argument("--json", action="store_true", help="one JSON object per line")
    versions.set_defaults(handler=cmd_models_versions)

    download = sub.add_parser(
        "download",
        parents=[scoped],
        help="download a version, checked against its manifest",
        description="Download the version's files into DIR. Every file is checked against "
        "the manifest (size, sha256) and the manifest against its digest before any is put "
        "in place; on a mismatch nothing is left and the command exits 1.",
    )
    download.add_argument("ref", metavar="REF", help=ref_help)
    download.add_argument("-d", "--dir", default=".", metavar="DIR", help="default: here")
    download.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    download.set_defaults(handler=cmd_models_download)

    alias = sub.add_parser("alias", help="point an alias at a version, or remove it")
    alias_sub = alias.add_subparsers(dest="alias_command", required=True, metavar="COMMAND")
    alias_set = alias_sub.add_parser(
        "set", parents=[scoped], help="point ALIAS at VERSION (a protected alias: use promote)"
    )
    alias_set.add_argument("name", metavar="NAME")
    alias_set.add_argument("alias", metavar="ALIAS")
    alias_set.add_argument("version", metavar="VERSION", type=_version_number)
    alias_set.add_argument("--reason", help="recorded in the audit log")
    alias_set.set_defaults(handler=cmd_models_alias_set)
    alias_rm = alias_sub.add_parser("rm", parents=[scoped], help="remove ALIAS")
    alias_rm.add_argument("name", metavar="NAME")
    alias_rm.add_argument("alias", metavar="ALIAS")
    alias_rm.add_argument("--reason", help="recorded in the audit log")
    alias_rm.set_defaults(handler=cmd_models_alias_rm)

    promote = sub.add_parser(
        "promote",
        parents=[scoped],
        help="ask an admin to point ALIAS at VERSION",
        description="Open a promotion request: a project admin approves or rejects it.",
    )
    promote.add_argument("name", metavar="NAME")
    promote.add_argument("version", metavar="VERSION", type=_version_number)
    promote.add_argument("alias", metavar="ALIAS")
    promote.add_argument("--reason", required=True, help="why (the admin reads it)")
    promote.set_defaults(handler=cmd_models_promote)
