"""The ``kiroku`` command.

Exit codes: 0 success; 1 failure (server unreachable, not found, a sync that could
not finish, an artifact download with a refused name or a failed file); 2 usage or
input error (bad arguments, a filter the server refuses, no URL or token
configured); 3 authentication (the token is missing, wrong, expired or lacks the
role); 130 interrupted. Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from kiroku.api import Api
from kiroku.errors import AuthError, ConfigError, InvalidInput, KirokuError, NotFound
from kiroku.projects import project_unknown_error
from kiroku.settings import (
    DEFAULT_URL,
    NO_URL,
    Settings,
    credentials_path,
    credentials_read,
    credentials_write,
    settings_resolve,
    url_normalise,
)
from kiroku.spool import SpoolBusy, lock_acquire, lock_release, spool_list, spool_read
from kiroku.sync import sync
from kiroku.version import __version__

OK, FAILURE, USAGE, AUTH = 0, 1, 2, 3
# A person is waiting: retry transient failures for a couple of seconds, not ten.
CLI_SETTINGS = Settings(init_timeout=2.0, backoff_base=0.25, backoff_max=1.0)
NO_URL_MESSAGE = "no server URL: pass --url, set KIROKU_URL, or run `kiroku login`"


def _print(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _error(text: str) -> None:
    # One line: the server's filter errors add a caret display under the first line.
    first = text.strip().splitlines()[0] if text.strip() else "unknown error"
    sys.stderr.write(f"kiroku: error: {first}\n")


def _exit_code(exc: KirokuError) -> int:
    if isinstance(exc, AuthError):
        return AUTH
    if isinstance(exc, ConfigError | InvalidInput):
        return USAGE
    return FAILURE


def _api(args: argparse.Namespace) -> Api:
    api = Api(url=args.url, token=args.token, settings=CLI_SETTINGS)
    if not api.settings.token:
        raise AuthError("no token: run `kiroku login` or set KIROKU_TOKEN")
    return api


# -- commands ----------------------------------------------------------------------


def cmd_login(args: argparse.Namespace) -> int:
    saved = credentials_read()
    url = args.url or os.environ.get("KIROKU_URL") or saved.get("url") or DEFAULT_URL
    if args.url is None and sys.stdin.isatty():
        answer = input(f"Kiroku server URL [{url}]: ").strip()
        url = answer or url
    url = url_normalise(url)
    token = args.token
    if not token:
        if not sys.stdin.isatty():
            raise ConfigError("no token: pass --token (stdin is not a terminal)")
        token = getpass.getpass(
            "API token (krk_…; create one in the portal or with create_token): "
        )
    token = token.strip()
    if not token:
        raise ConfigError("no token given")
    with Api(url=url, token=token, settings=CLI_SETTINGS) as api:
        try:
            me = api.me()
        except NotFound:
            root = urlsplit(url)
            raise ConfigError(
                f"no Kiroku API at {url} (GET {url}/api/v1/me answered 404): give the "
                f"server's root URL, e.g. --url {root.scheme}://{root.netloc}",
                status=404,
            ) from None
        project = args.project
        if project:
            try:
                api.get(f"/projects/{project}")
            except NotFound:
                raise project_unknown_error(api._transport, project) from None
        elif saved.get("url") == url:
            project = saved.get("project")  # logging in again keeps the chosen project
    path = credentials_write(url, token, project=project)
    chosen = f" Default project: {project}." if project else ""
    _print(f"Logged in to {url} as {_caller(me)}.{chosen} Saved to {path} (mode 600).")
    return OK


def _caller(me: dict) -> str:
    """Who ``GET /me`` says the token acts as. A service token names no user (it acts
    for its project, not as the person who made it)."""
    info = me.get("token") or {}
    if info.get("project"):
        return f"service token '{info['name']}' of project {info['project']} ({info['role']})"
    user = (me.get("user") or {}).get("username") or "?"
    return f"{user}, personal token '{info['name']}'" if info else user


def cmd_sync(args: argparse.Namespace) -> int:
    settings = settings_resolve(url=args.url, token=args.token, dir=args.dir)
    if not settings.token:
        raise AuthError("no token: run `kiroku login` or set KIROKU_TOKEN")
    target = Path(args.path) if args.path else settings.spool_dir
    if args.path and not target.exists():
        raise ConfigError(f"{target} does not exist")
    results = sync(settings, target, progress=not args.quiet)
    if not results:
        _print(f"Nothing to sync in {target}.")
        return OK
    code = OK
    for result in results:
        name = result.path.name
        if result.skipped:
            _print(f"skipped {name}: {result.skipped}")
        elif result.error:
            _error(f"{name}: {result.error} ({result.records} record(s) sent before that)")
            code = AUTH if result.auth_error else max(code, FAILURE)
        else:
            end = (
                "" if result.finished else " (no finish recorded: the process did not end cleanly)"
            )
            _print(
                f"synced {name}: run {result.run_id}, {result.records} record(s), "
                f"{result.points:,} point(s){end}"
            )
    return code


def cmd_status(args: argparse.Namespace) -> int:
    settings = settings_resolve(url=args.url, token=args.token, dir=args.dir)
    token = settings.token
    _print(f"server:  {settings.url or '(none: run `kiroku login`)'}")
    _print(
        f"token:   {token[:12] + '…' if token else '(none)'}  (credentials: {credentials_path()})"
    )
    _print(
        f"project: {settings.project or '(none: -p, KIROKU_PROJECT or `kiroku login --project`)'}"
    )
    _print(f"spool:   {settings.spool_dir}")
    paths = spool_list(settings.spool_dir)
    unsent = 0
    for path in paths:
        state = spool_read(path)
        try:
            lock_release(lock_acquire(path), path)
            live = ""
        except SpoolBusy:
            live = "  [in use by a running process]"
        pending = state.pending
        if not pending:
            continue
        unsent += 1
        finish = "finish recorded" if state.has_finish else "no finish"
        run = state.run_id or "(not created)"
        _print(
            f"  {path.name}: {state.project}/{state.name or '?'} run {run}"
            f" — {len(pending)} record(s), {state.pending_points:,} point(s) unsent, {finish}{live}"
        )
    if not unsent:
        _print("Nothing spooled: everything was sent.")
    else:
        _print(f"{unsent} spool file(s) to upload: run `kiroku sync`.")
    return OK


# -- parsing -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="server URL (default: KIROKU_URL, then `kiroku login`)")
    common.add_argument("--token", help="API token (default: KIROKU_TOKEN, then `kiroku login`)")
    parser = argparse.ArgumentParser(
        prog="kiroku",
        description="Kiroku's client: log in, upload spooled runs, list and show runs, "
        "list and download their artifacts, report CI results.",
        epilog="Exit codes: 0 ok, 1 failure, 2 usage or input error, 3 authentication.",
    )
    parser.add_argument("--version", action="version", version=f"kiroku {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    login = commands.add_parser(
        "login", parents=[common], help="save the server URL, the token and a default project"
    )
    login.add_argument(
        "-p",
        "--project",
        help="the project `kiroku runs list` and kiroku.init() use when none is given "
        "(KIROKU_PROJECT still wins)",
    )
    login.set_defaults(handler=cmd_login)

    sync_cmd = commands.add_parser("sync", parents=[common], help="upload spooled runs")
    sync_cmd.add_argument(
        "path", nargs="?", help="a spool file or folder (default: KIROKU_DIR/spool)"
    )
    sync_cmd.add_argument("--dir", help="KIROKU_DIR to read the spool from")
    sync_cmd.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    sync_cmd.set_defaults(handler=cmd_sync)

    status = commands.add_parser("status", parents=[common], help="settings and unsent data")
    status.add_argument("--dir", help="KIROKU_DIR to inspect")
    status.set_defaults(handler=cmd_status)

    # Imported here: cli_runs and cli_artifacts use this module's helpers.
    from kiroku.ci.command import add_commands as add_ci_commands
    from kiroku.cli_artifacts import add_commands
    from kiroku.cli_runs import add_commands as add_runs_commands

    add_runs_commands(commands, common)
    add_commands(commands, common)
    add_ci_commands(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except KirokuError as exc:
        # The settings' own wording speaks to Python code (url=...); here it is a flag.
        _error(NO_URL_MESSAGE if exc.code == NO_URL else exc.message)
        return _exit_code(exc)
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except (OSError, ValueError) as exc:
        _error(str(exc))
        return FAILURE
