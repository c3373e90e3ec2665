"""Where the SDK's settings come from, and the credentials file ``kiroku login`` writes.

Precedence, per setting: the argument given in code, then the environment
(``KIROKU_URL``, ``KIROKU_TOKEN``, ``KIROKU_PROJECT``, ``KIROKU_MODE``, ``KIROKU_DIR``,
``KIROKU_SILENT``), then the credentials file (URL, token and project only), then the
default.

The credentials file is ``$XDG_CONFIG_HOME/kiroku/credentials`` (``~/.config/...``
when unset): JSON ``{"url": ..., "token": ..., "project": ...}`` (``project`` only
when ``kiroku login --project`` saved one), mode 600 in a mode-700 folder. It is
kept apart from ``KIROKU_DIR`` (spool and caches, default ``~/.kiroku``), which jobs
often point at scratch space.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kiroku.errors import ConfigError

logger = logging.getLogger("kiroku")

MODES = ("online", "offline", "disabled")
DEFAULT_URL = "http://127.0.0.1:8000"
SAVED_KEYS = ("url", "token", "project")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")
# First path segments of the portal's pages and the API below the root: a URL with
# one of them is a page someone copied from the browser, not the server's address.
PAGE_SEGMENTS = frozenset(
    {"projects", "s", "login", "logout", "account", "tokens", "invites", "invite", "signup"}
    | {"password-reset", "admin", "api", "healthz", "readyz", "metrics", "store"}
)
# ConfigError.code of a missing server URL: the CLI words the fix its own way.
NO_URL = "no_url"


@dataclass(frozen=True)
class Settings:
    """Everything a run, the read API and the CLI need. Intervals are in seconds; the
    tuning values have production defaults and are small in tests."""

    url: str | None = None
    token: str | None = None
    project: str | None = None
    mode: str = "online"
    dir: Path = field(default_factory=lambda: Path("~/.kiroku").expanduser())
    # No "Kiroku: run ..." lines at init() and finish(), and no progress lines
    # (problems are still reported through the ``kiroku`` logger).
    quiet: bool = False
    # Each HTTP request gives up after this long; the sender then retries.
    timeout: float = 10.0
    # How long a call someone waits on retries transient failures: init()'s create
    # (after which the run goes on and is created in the background), reads, the CLI.
    init_timeout: float = 10.0
    # Pending points are sent at least this often.
    flush_interval: float = 1.0
    heartbeat_interval: float = 30.0
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    # After the server has failed for this long, pending data goes to the spool file.
    spool_after: float = 10.0
    # finish() waits at most this long for the upload, then leaves the rest spooled.
    finish_timeout: float = 60.0
    # Before that, finish() waits at most this long for artifact uploads (large models
    # take a while); an explicit finish(timeout=...) or SIGTERM caps it.
    artifact_timeout: float = 3600.0
    # On SIGTERM, finishing waits at most this long: schedulers (SLURM, Kubernetes)
    # send SIGKILL about 30 s after SIGTERM, and the program's own handlers need time.
    sigterm_timeout: float = 20.0
    # Points held in memory while the sender is behind; above spill_points, a failing
    # server's backlog goes to the spool; above max_queue_points, log() itself moves
    # the backlog to disk (so memory stays bounded even when a request hangs).
    spill_points: int = 100_000
    max_queue_points: int = 1_000_000
    max_batch_points: int = 10_000
    max_batch_bytes: int = 3_670_016  # 3.5 MiB: under the server's 4 MiB with room

    @property
    def api_url(self) -> str:
        if not self.url:
            raise ConfigError(
                "no server URL: pass url=... to kiroku.init() or kiroku.Api(), set KIROKU_URL, "
                "or run `kiroku login`",
                code=NO_URL,
            )
        return f"{self.url}/api/v1"

    @property
    def spool_dir(self) -> Path:
        return self.dir / "spool"

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the non-None ``overrides`` applied."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def url_normalise(url: str) -> str:
    """``http://host:8000/`` and ``http://host:8000/api/v1`` both mean the server.
    Raises ConfigError for a URL that is not http(s), or that is a page of the portal
    or a deeper API path (``http://host/projects/vision``): the message gives the
    server's root URL to use instead. A server below a path of its own
    (``https://example.com/kiroku``) is accepted."""
    url = url.strip().rstrip("/")
    if url.endswith("/api/v1"):
        url = url[: -len("/api/v1")]
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"server URL must start with http:// or https://: {url!r}")
    parts = urlsplit(url)
    segments = parts.path.split("/")
    page = next((i for i, segment in enumerate(segments) if segment in PAGE_SEGMENTS), None)
    if page is not None or parts.query or parts.fragment:
        root = f"{parts.scheme}://{parts.netloc}{'/'.join(segments[:page]).rstrip('/')}"
        raise ConfigError(
            f"{url} is a page of the Kiroku portal, not the server's address; give the "
            f"server's root URL: {root}"
        )
    return url


def flag_parse(value: Any, variable: str) -> bool:
    """A boolean setting from the environment (true/false, 1/0, yes/no, on/off; empty
    is false). Raises ConfigError naming ``variable`` for anything else."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise ConfigError(f"{variable} must be true or false; got {value!r}")


def credentials_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return Path(base) / "kiroku" / "credentials"


def credentials_read(path: Path | None = None) -> dict[str, str]:
    """The saved ``{"url", "token"}`` and ``"project"`` when one was saved (empty when
    there is no file). Warns when the file is readable by others, as ssh does."""
    path = path or credentials_path()
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        logger.warning("kiroku: cannot read %s: %s", path, exc)
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        logger.warning("kiroku: %s is not valid JSON; run `kiroku login` again", path)
        return {}
    if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning("kiroku: %s is readable by other users; chmod 600 it", path)
    return {k: str(v) for k, v in data.items() if k in SAVED_KEYS and v}


def credentials_write(
    url: str, token: str, path: Path | None = None, *, project: str | None = None
) -> Path:
    """Save the URL, the token and the default project (when given), readable only by
    the user (mode 600, folder 700), replacing the file atomically. Returns its path."""
    path = path or credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".credentials.")  # mode 600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            saved = {"url": url, "token": token}
            if project:
                saved["project"] = project
            json.dump(saved, handle)
            handle.write("\n")
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def settings_resolve(
    *,
    url: str | None = None,
    token: str | None = None,
    project: str | None = None,
    mode: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    quiet: bool | None = None,
    base: Settings | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Settings from arguments, then environment, then the credentials file, then
    ``base`` (tuning values) or the defaults. Raises ConfigError for a bad mode, URL or
    ``KIROKU_SILENT``; a missing URL or token is only an error where it is needed."""
    env = os.environ if environ is None else environ
    base = base or Settings()
    saved: dict[str, str] | None = None

    def pick(argument: Any, variable: str, saved_key: str | None, fallback: Any) -> Any:
        nonlocal saved
        if argument is not None:
            return argument
        if env.get(variable):
            return env[variable]
        if saved_key is not None:
            if saved is None:
                saved = credentials_read()
            if saved.get(saved_key):
                return saved[saved_key]
        return fallback

    chosen_url = pick(url, "KIROKU_URL", "url", base.url)
    chosen_token = pick(token, "KIROKU_TOKEN", "token", base.token)
    chosen_mode = str(pick(mode, "KIROKU_MODE", None, base.mode)).lower()
    if chosen_mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}; got {chosen_mode!r}")
    chosen_dir = Path(pick(dir, "KIROKU_DIR", None, base.dir)).expanduser()
    chosen_quiet = flag_parse(pick(quiet, "KIROKU_SILENT", None, base.quiet), "KIROKU_SILENT")
    return replace(
        base,
        url=url_normalise(chosen_url) if chosen_url else None,
        token=chosen_token or None,
        project=pick(project, "KIROKU_PROJECT", "project", base.project),
        mode=chosen_mode,
        dir=chosen_dir,
        quiet=chosen_quiet,
    )
