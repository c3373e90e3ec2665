"""Git state of the working directory: commit, branch, remote, dirty flag and diff.

Everything comes from the ``git`` command (no GitPython): it is what the user has, it
honours their configuration (``insteadOf``, ``safe.directory``), and each call has a
deadline. Git is asked never to prompt and never to take the index lock.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kiroku.capture._process import (
    ProbeError,
    git_environment,
    log,
    run_command,
    utf8_prefix,
)
from kiroku.redaction import redact_text

MAX_COMMIT = 64
MAX_BRANCH = 250
MAX_REMOTE = 500
# The listing of untracked files at the head of the diff is capped on its own, so a
# build folder nobody ignored cannot crowd out the diff itself.
MAX_UNTRACKED_NAMES = 1_000
UNTRACKED_HEADER = "# Untracked files (names only; their contents are not recorded):\n"

_SCHEME_USERINFO = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/?#]*)@")
_SCP_PASSWORD = re.compile(r"^(?P<user>[^:/@]+):[^@/]*@(?P<rest>[^@]+:.*)$")
_SSH_SCHEMES = {"ssh://", "git+ssh://", "ssh+git://"}


def remote_strip_credentials(url: str) -> str:
    """A remote URL without secrets.

    ``https://user:token@host/x.git`` → ``https://host/x.git`` (every scheme but ssh
    loses its whole user part: a bare ``https://TOKEN@host`` is a credential too);
    ``ssh://git:secret@host/x`` → ``ssh://git@host/x`` and scp-style
    ``git:secret@host:x`` → ``git@host:x`` (an ssh user name is not a secret, its
    password is). Anything else is returned unchanged.
    """
    match = _SCHEME_USERINFO.match(url)
    if match:
        scheme = match.group("scheme")
        rest = url[match.end() :]
        if scheme.lower() in _SSH_SCHEMES:
            user = match.group("userinfo").split(":", 1)[0]
            return f"{scheme}{user}@{rest}" if user else f"{scheme}{rest}"
        return f"{scheme}{rest}"
    match = _SCP_PASSWORD.match(url)
    if match:
        return f"{match.group('user')}@{match.group('rest')}"
    return url


def git_info(cwd: Path, *, max_diff_bytes: int = 1_048_576) -> dict[str, Any] | None:
    """``{commit, branch, remote, dirty, diff, diff_truncated}`` for the repository that
    contains ``cwd``, or None when ``cwd`` is not inside a work tree (or git is missing).

    ``commit`` is empty before the first commit, ``branch`` on a detached HEAD,
    ``remote`` when there is none (or it is longer than the server keeps). ``dirty``
    says whether tracked files differ from HEAD (staged or not); untracked files do not
    make a tree dirty, as with ``git describe --dirty``, but their names head the diff.
    ``diff`` is that listing followed by ``git diff HEAD`` with its secrets redacted
    (``kiroku.redaction``: tokens, keys, passwords, ``.env`` values...), at most
    ``max_diff_bytes`` bytes of UTF-8 (cut on a character boundary, with
    ``diff_truncated`` true).
    A probe that fails leaves its field empty (``dirty`` None); this never raises
    ``ProbeError`` past the first check.
    """
    try:
        inside = _git(cwd, "rev-parse", "--is-inside-work-tree").strip()
    except ProbeError as exc:
        log.debug("git: not captured: %s", exc)
        return None
    if inside != "true":
        return None
    commit = _git_or_empty(cwd, "rev-parse", "--verify", "-q", "HEAD^{commit}")
    branch = _git_or_empty(cwd, "symbolic-ref", "--short", "-q", "HEAD")
    remote = _remote(cwd, branch)
    try:
        status = _git(cwd, "status", "--porcelain", "--untracked-files=no", timeout=20)
        dirty: bool | None = bool(status.strip())
    except ProbeError as exc:
        log.debug("git: dirty flag not captured: %s", exc)
        dirty = None
    diff, truncated = _diff(cwd, commit, max_diff_bytes)
    diff = redact_text(diff)
    if len(diff.encode("utf-8")) > max_diff_bytes:  # a marker can be longer than its secret
        diff, _ = utf8_prefix(diff.encode("utf-8"), max_diff_bytes)
        truncated = True
    if len(remote) > MAX_REMOTE:
        log.debug("git: remote URL is longer than %d characters; left out", MAX_REMOTE)
        remote = ""
    return {
        "commit": commit[:MAX_COMMIT],
        "branch": branch[:MAX_BRANCH],
        "remote": remote,
        "dirty": dirty,
        "diff": diff,
        "diff_truncated": truncated,
    }


def _git(cwd: Path, *args: str, timeout: float = 5.0) -> str:
    out, _ = run_command(["git", *args], cwd=cwd, timeout=timeout, env=git_environment())
    return out.decode("utf-8", errors="replace")


def _git_or_empty(cwd: Path, *args: str) -> str:
    try:
        return _git(cwd, *args).strip()
    except ProbeError as exc:
        log.debug("git %s: %s", args[0], exc)
        return ""


def _remote(cwd: Path, branch: str) -> str:
    """The URL of the branch's upstream remote, else ``origin``, else the first remote."""
    try:
        listing = _git(cwd, "config", "--get-regexp", r"^remote\..*\.url$")
    except ProbeError:
        return ""  # no remote configured: git config exits 1
    urls: dict[str, str] = {}
    for line in listing.splitlines():
        name, _, url = line.partition(" ")
        name = name.removeprefix("remote.").removesuffix(".url")
        urls.setdefault(name, url.strip())
    if not urls:
        return ""
    chosen = ""
    if branch:
        chosen = _git_or_empty(cwd, "config", "--get", f"branch.{branch}.remote")
    if chosen not in urls:
        chosen = "origin" if "origin" in urls else next(iter(urls))
    return remote_strip_credentials(urls[chosen])


def _diff(cwd: Path, commit: str, max_diff_bytes: int) -> tuple[str, bool]:
    if max_diff_bytes <= 0:
        return "", False
    head = _untracked_listing(cwd)
    head_bytes = head.encode("utf-8")
    if len(head_bytes) >= max_diff_bytes:
        return utf8_prefix(head_bytes, max_diff_bytes)
    base = commit or _empty_tree(cwd)
    try:
        body, cut = run_command(
            ["git", "diff", "--no-color", "--no-ext-diff", "--no-textconv", base, "--"],
            cwd=cwd,
            timeout=20,
            limit=max_diff_bytes - len(head_bytes),
            env=git_environment(),
        )
    except ProbeError as exc:
        log.debug("git diff: %s", exc)
        body, cut = b"", False
    text, cut_again = utf8_prefix(head_bytes + body, max_diff_bytes)
    return text, cut or cut_again


def _untracked_listing(cwd: Path) -> str:
    try:
        out, more = run_command(
            ["git", "ls-files", "--others", "--exclude-standard", "-z"],
            cwd=cwd,
            timeout=10,
            limit=256 * 1024,
            env=git_environment(),
        )
    except ProbeError as exc:
        log.debug("git ls-files: %s", exc)
        return ""
    names = [n for n in out.decode("utf-8", errors="replace").split("\x00") if n]
    if more and names:
        names.pop()  # the last name may have been cut mid-way
    if not names:
        return ""
    shown = names[:MAX_UNTRACKED_NAMES]
    lines = [UNTRACKED_HEADER, *(f"#   {name}\n" for name in shown)]
    if more or len(names) > len(shown):
        lines.append("#   ... and more\n")
    return "".join(lines) + "\n"


def _empty_tree(cwd: Path) -> str:
    """The id of the empty tree in this repository's hash (SHA-1 or SHA-256), for a
    diff before the first commit."""
    try:
        out, _ = run_command(
            ["git", "hash-object", "-t", "tree", "--stdin"],
            cwd=cwd,
            timeout=5,
            env=git_environment(),
        )
        return out.decode().strip()
    except ProbeError:
        return "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
