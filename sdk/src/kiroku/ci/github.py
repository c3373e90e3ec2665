"""Where ``kiroku ci report`` runs: the CI context read from the environment, and the
two files GitHub Actions reads back from a step (the job summary and the outputs).

GitHub Actions is read in full (its variables and the event payload); GitLab CI and
other CI systems give what their variables say, and the commit and branch otherwise
come from git. Nothing secret goes into the ``ci`` object: it is built from a fixed
list of non-secret variables and a few fields of the event payload.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiroku.capture.git import git_info
from kiroku.ci.markdown import text_cut

log = logging.getLogger("kiroku.ci")

DEFAULT_SERVER_URL = "https://github.com"
DEFAULT_API_URL = "https://api.github.com"
# Each text field of `ci` is cut to this length: the server keeps at most 16 KiB of
# JSON for the whole object, and no real value comes near it.
MAX_CI_TEXT = 500
# An event payload larger than this is not read (a push of thousands of commits);
# only a few small fields of it are used.
MAX_EVENT_BYTES = 25 * 1024 * 1024
# GitHub refuses a job summary over 1 MiB for one step.
MAX_STEP_SUMMARY_BYTES = 1024 * 1024
PR_EVENTS = frozenset({"pull_request", "pull_request_target"})


@dataclass(frozen=True)
class CiContext:
    """What the report needs to know about the CI job it runs in.

    ``ci`` is the run's ``ci`` object (only keys the server accepts, no empty values).
    ``commit`` and ``branch`` are for the run's git info: on a pull request the PR's
    head (GitHub checks out a merge commit there), on a tag ``branch`` is "".
    ``step_summary``, ``output`` and ``token`` are set only on GitHub Actions.
    """

    ci: dict[str, Any]
    commit: str
    branch: str
    default_branch: str
    pr: int | None
    repository: str
    api_url: str
    token: str
    step_summary: Path | None
    output: Path | None
    on_github: bool


def ci_context(environ: Mapping[str, str], *, cwd: Path) -> CiContext:
    """The context of the job described by ``environ`` (``os.environ`` in the CLI).

    Never raises: an unreadable event payload is logged and ignored (no PR then), and
    git is only asked when the environment does not name the commit or branch.
    """
    if environ.get("GITHUB_ACTIONS") == "true":
        return _github(environ, cwd)
    if environ.get("GITLAB_CI") == "true":
        return _gitlab(environ, cwd)
    provider = "ci" if environ.get("CI", "").lower() not in ("", "0", "false") else "local"
    commit, branch = _git_commit_branch(cwd)
    ci = _clean({"provider": provider, "commit": commit, "branch": branch})
    return _context(ci, commit=commit, branch=branch, default_branch="main", on_github=False)


def write_step_summary(ctx: CiContext, markdown: str) -> bool:
    """Append ``markdown`` to the job summary (``$GITHUB_STEP_SUMMARY``); False when
    there is none. Earlier steps' summaries are kept. Text past GitHub's 1 MiB limit
    is cut at a line end with a note. Raises OSError when the file cannot be written."""
    if ctx.step_summary is None:
        return False
    try:
        used = ctx.step_summary.stat().st_size
    except OSError:
        used = 0
    text = markdown if markdown.endswith("\n") else markdown + "\n"
    # A blank line first, so this summary never continues an earlier step's table.
    text = ("\n" if used else "") + text
    text = text_cut(
        text, max(0, MAX_STEP_SUMMARY_BYTES - used), size=lambda s: len(s.encode("utf-8"))
    )
    with ctx.step_summary.open("a", encoding="utf-8") as file:
        file.write(text)
    return True


def write_outputs(ctx: CiContext, outputs: Mapping[str, str]) -> bool:
    """Append the step outputs to ``$GITHUB_OUTPUT``; False when there is none.

    A value with a line break is written in the runner's heredoc form
    (``name<<DELIM`` … ``DELIM``) with a random delimiter that does not occur in it.
    Raises ValueError for a name the runner cannot read back, OSError when the file
    cannot be written.
    """
    if ctx.output is None:
        return False
    lines = []
    for name, value in outputs.items():
        if not name or any(c in name for c in "=<\r\n") or name != name.strip():
            raise ValueError(f"output name {name!r} cannot be written to GITHUB_OUTPUT")
        if "\n" in value or "\r" in value:
            delimiter = _delimiter(value)
            lines.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            lines.append(f"{name}={value}\n")
    with ctx.output.open("a", encoding="utf-8", newline="\n") as file:
        file.write("".join(lines))
    return True


def _delimiter(value: str) -> str:
    while True:
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        if delimiter not in value:
            return delimiter


# -- GitHub Actions ----------------------------------------------------------------


def _github(env: Mapping[str, str], cwd: Path) -> CiContext:
    server = (env.get("GITHUB_SERVER_URL") or DEFAULT_SERVER_URL).rstrip("/")
    api_url = (env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
    repository = env.get("GITHUB_REPOSITORY", "")
    event_name = env.get("GITHUB_EVENT_NAME", "")
    payload = _event_payload(env.get("GITHUB_EVENT_PATH", ""))
    pull = _dict(payload.get("pull_request")) if event_name in PR_EVENTS else {}
    pr = _json_positive_int(pull.get("number"))
    if pr is None:
        pull = {}
    head, base = _dict(pull.get("head")), _dict(pull.get("base"))
    # GITHUB_HEAD_REF/GITHUB_BASE_REF are set on pull request events only.
    head_ref = env.get("GITHUB_HEAD_REF") or _str(head.get("ref"))
    base_ref = env.get("GITHUB_BASE_REF") or _str(base.get("ref"))
    ref = env.get("GITHUB_REF", "")
    branch = _branch(ref, env.get("GITHUB_REF_NAME", ""), head_ref)

    run_id = env.get("GITHUB_RUN_ID", "")
    attempt = _positive_int(env.get("GITHUB_RUN_ATTEMPT"))
    workflow_url = ""
    if repository and run_id:
        workflow_url = f"{server}/{repository}/actions/runs/{run_id}"
        if attempt is not None and attempt > 1:
            workflow_url += f"/attempts/{attempt}"
    sha = env.get("GITHUB_SHA", "")
    commit = _str(head.get("sha")) or sha
    if not commit:
        commit = _git_commit_branch(cwd)[0]
    repo_info = _dict(payload.get("repository"))
    ci = _clean(
        {
            "provider": "github",
            "repository": repository,
            "workflow": env.get("GITHUB_WORKFLOW"),
            "workflow_url": workflow_url,
            "job": env.get("GITHUB_JOB"),
            "run_id": run_id,
            "run_attempt": attempt,
            "event": event_name,
            "actor": env.get("GITHUB_ACTOR"),
            "commit": sha,
            "ref": ref,
            "branch": branch,
            "pr": pr,
            "pr_url": f"{server}/{repository}/pull/{pr}" if pr and repository else "",
            "base_ref": base_ref,
            "head_ref": head_ref,
        }
    )
    return CiContext(
        ci=ci,
        commit=commit,
        branch=branch,
        default_branch=_str(repo_info.get("default_branch")) or "main",
        pr=pr,
        repository=repository,
        api_url=api_url,
        token=env.get("GITHUB_TOKEN", ""),
        step_summary=_path(env.get("GITHUB_STEP_SUMMARY")),
        output=_path(env.get("GITHUB_OUTPUT")),
        on_github=True,
    )


def _branch(ref: str, ref_name: str, head_ref: str) -> str:
    """The branch the job is about: the PR's head branch, the pushed branch, or ""
    (a tag, or a ref that is not a branch)."""
    if head_ref:
        return head_ref
    if ref.startswith("refs/heads/"):
        return ref_name or ref.removeprefix("refs/heads/")
    if not ref:
        return ref_name
    return ""


def _event_payload(path: str) -> dict[str, Any]:
    """The event payload, or {} when there is none that can be read."""
    if not path:
        return {}
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_EVENT_BYTES + 1)
        if len(raw) > MAX_EVENT_BYTES:
            raise ValueError(f"larger than {MAX_EVENT_BYTES} bytes")
        data = json.loads(raw)
    except (OSError, ValueError) as exc:
        log.warning("GITHUB_EVENT_PATH %s could not be read (%s); no pull request info", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


# -- GitLab CI ---------------------------------------------------------------------


def _gitlab(env: Mapping[str, str], cwd: Path) -> CiContext:
    pr = _positive_int(env.get("CI_MERGE_REQUEST_IID"))
    head_ref = env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "")
    ref_name = env.get("CI_COMMIT_REF_NAME", "")
    branch = head_ref or env.get("CI_COMMIT_BRANCH", "")
    if not branch and not env.get("CI_COMMIT_TAG"):
        branch = ref_name
    commit = env.get("CI_COMMIT_SHA", "")
    if not commit or not branch:
        git_commit, git_branch = _git_commit_branch(cwd)
        commit, branch = commit or git_commit, branch or git_branch
    project_url = env.get("CI_MERGE_REQUEST_PROJECT_URL") or env.get("CI_PROJECT_URL", "")
    ci = _clean(
        {
            "provider": "gitlab",
            "repository": env.get("CI_PROJECT_PATH"),
            "workflow_url": env.get("CI_PIPELINE_URL"),
            "job": env.get("CI_JOB_NAME"),
            "run_id": env.get("CI_PIPELINE_ID"),
            "event": env.get("CI_PIPELINE_SOURCE"),
            "actor": env.get("GITLAB_USER_LOGIN"),
            "commit": commit,
            "ref": ref_name,
            "branch": branch,
            "pr": pr,
            "pr_url": f"{project_url}/-/merge_requests/{pr}" if pr and project_url else "",
            "base_ref": env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"),
            "head_ref": head_ref,
        }
    )
    return _context(
        ci,
        commit=commit,
        branch=branch,
        default_branch=env.get("CI_DEFAULT_BRANCH") or "main",
        on_github=False,
        pr=pr,
        repository=env.get("CI_PROJECT_PATH", ""),
    )


# -- helpers -----------------------------------------------------------------------


def _context(
    ci: dict[str, Any],
    *,
    commit: str,
    branch: str,
    default_branch: str,
    on_github: bool,
    pr: int | None = None,
    repository: str = "",
) -> CiContext:
    """A context off GitHub: no token, summary or outputs (those are GitHub's)."""
    return CiContext(
        ci=ci,
        commit=commit,
        branch=branch,
        default_branch=default_branch,
        pr=pr,
        repository=repository,
        api_url=DEFAULT_API_URL,
        token="",
        step_summary=None,
        output=None,
        on_github=on_github,
    )


def _git_commit_branch(cwd: Path) -> tuple[str, str]:
    # No diff: only the commit and branch are wanted here, and a diff can be slow.
    info = git_info(cwd, max_diff_bytes=0)
    if info is None:
        return "", ""
    return info["commit"], info["branch"]


def _clean(ci: dict[str, Any]) -> dict[str, Any]:
    """Without None/"" values; text cut to MAX_CI_TEXT characters."""
    out: dict[str, Any] = {}
    for key, value in ci.items():
        if value is None or value == "":
            continue
        out[key] = value[:MAX_CI_TEXT] if isinstance(value, str) else value
    return out


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _positive_int(value: Any) -> int | None:
    """A positive number from a variable (digits) or JSON (an int, not a bool, float
    or string)."""
    if isinstance(value, str):
        text = value.strip()
        number = int(text) if text.isascii() and text.isdigit() else None
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        number = None
    return number if number is not None and number > 0 else None


def _json_positive_int(value: Any) -> int | None:
    return None if isinstance(value, str) else _positive_int(value)


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None
