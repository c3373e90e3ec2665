"""``kiroku login``: save the server URL, the token and a default project."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any
from urllib.parse import urlsplit

from kiroku.api import Api
from kiroku.cli.common import CLI_SETTINGS, OK, Subcommands, line_print
from kiroku.errors import ConfigError, NotFound
from kiroku.settings import DEFAULT_URL, credentials_read, credentials_write, url_normalise


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
            api.project(project)
        elif saved.get("url") == url:
            project = saved.get("project")  # logging in again keeps the chosen project
    path = credentials_write(url, token, project=project)
    chosen = f" Default project: {project}." if project else ""
    line_print(f"Logged in to {url} as {_caller(me)}.{chosen} Saved to {path} (mode 600).")
    return OK


def _caller(me: dict[str, Any]) -> str:
    """Who ``GET /me`` says the token acts as. A service token names no user (it acts
    for its project, not as the person who made it)."""
    info = me.get("token") or {}
    if info.get("project"):
        return f"service token '{info['name']}' of project {info['project']} ({info['role']})"
    user = (me.get("user") or {}).get("username") or "?"
    return f"{user}, personal token '{info['name']}'" if info else str(user)


def add_commands(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    """Add ``login`` to the ``kiroku`` parser."""
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
