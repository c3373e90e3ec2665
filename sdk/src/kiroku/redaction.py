"""Secret redaction: one set of rules for everything a run carries off the machine.

The SDK applies it before anything leaves the process (git diff, command line,
environment, params, tags, summary values, ``kiroku ci report`` inputs) and the server
applies the same module to the diffs, commands and environments it stores, so what is
stored never depends on the client being current.

Each secret becomes ``[redacted:<kind>]`` and the rest of the text is kept::

    redact_text('api_key = "sk-proj-…"')   # 'api_key = "[redacted:openai-key]"'
    redact_text("postgres://app:pw@db/x")  # "postgres://app:[redacted:password]@db/x"

Detection uses detect-secrets' maintained plugins (AWS, GitHub, GitLab, Slack, OpenAI,
Stripe, PyPI, SendGrid, npm, Square, Discord, Twilio, Mailchimp, Azure storage keys,
private keys, URLs with a password, JWTs) and its keyword list and false-positive
heuristics for named assignments. Patterns of our own cover what no plugin does:
Kiroku tokens (``krk_…``), fine-grained GitHub tokens, Anthropic and other ``sk-…``
keys, Google API keys, Hugging Face tokens, unquoted AWS secret keys, whole private
key blocks, and the names that say secret (``token``, ``credentials``...). The
high-entropy-string plugins are not used: they cannot tell a key from a commit hash,
a checksum or a base64 image.

Redaction is idempotent (redacting redacted text changes nothing) and never raises
on text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detect_secrets.filters import heuristic
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.keyword import DENYLIST as KEYWORD_DENYLIST
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector
from detect_secrets.util.filetype import FileType, determine_file_type

__all__ = [
    "MARKER",
    "name_is_secret",
    "redact_command",
    "redact_environment",
    "redact_json",
    "redact_text",
    "redact_value",
    "redacted",
]

MARKER = "[redacted:"
NAMED_KIND = "secret"  # the kind of a value hidden because of its name
PRIVATE_KEY_MAX = 64 * 1024  # how far after BEGIN the END of a key block is looked for


def redacted(kind: str) -> str:
    """``[redacted:<kind>]``: what a secret of that kind is replaced with."""
    return f"{MARKER}{kind}]"


# -- secrets recognised by their format ------------------------------------------------

# A match preceded by one of these continues a longer word or blob (base64url, a
# hash): it is a fragment, not a token.
_TOKEN_CHAR = re.compile(r"[A-Za-z0-9_-]")


@dataclass(frozen=True)
class _Format:
    kind: str
    pattern: re.Pattern[str]
    group: int = 0  # the part of the match that is the secret
    bounded: bool = True  # refuse a match that continues a longer token on its left
    valid: Callable[[str], bool] | None = None
    keep_prefix: str = ""  # a literal at the start of the match that is not secret
    # Text without any of these cannot match (``lower``: compared case-insensitively):
    # a substring test is far cheaper than a regular expression over a 1 MiB diff.
    needles: tuple[str, ...] = ()
    lower: bool = False
    tail: re.Pattern[str] | None = None  # what else belongs to the secret after the match


def _plugin(detector: Any, kind: str, **options: Any) -> list[_Format]:
    """One rule per regular expression of a detect-secrets RegexBasedDetector."""
    return [_Format(kind, pattern, **options) for pattern in detector.denylist]


_AWS_ID, _AWS_SECRET_QUOTED = AWSKeyDetector.denylist

# In the order they win when two matches overlap.
_FORMATS: list[_Format] = [
    _Format("kiroku-token", re.compile(r"krk_[A-Za-z0-9_-]{20,}"), needles=("krk_",)),
    _Format("anthropic-key", re.compile(r"sk-ant-[A-Za-z0-9_-]{20,}"), needles=("sk-ant-",)),
    *_plugin(OpenAIDetector, "openai-key", needles=("T3BlbkFJ",)),
    # Newer OpenAI keys (sk-proj-…, sk-svcacct-…) and other providers' sk-… keys.
    _Format(
        "openai-key",
        re.compile(r"sk-(?=[A-Za-z0-9_-]{0,200}[0-9])[A-Za-z0-9_-]{20,}(?![A-Za-z0-9_-])"),
        needles=("sk-",),
    ),
    _Format("github-token", re.compile(r"github_pat_[A-Za-z0-9_]{22,}"), needles=("github_pat_",)),
    *_plugin(GitHubTokenDetector, "github-token", needles=("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    *_plugin(
        GitLabTokenDetector,
        "gitlab-token",
        needles=(
            *("glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "GR1348941", "glcbt-"),
            *("glimt-", "glptt-", "glagent-", "gloas-"),
        ),
    ),
    _Format("slack-token", SlackDetector.denylist[0], needles=("xox",), lower=True),
    _Format("slack-webhook", SlackDetector.denylist[1], needles=("hooks.slack.com",), lower=True),
    _Format("aws-access-key-id", _AWS_ID, needles=("A3T", "ABIA", "ACCA", "AKIA", "ASIA")),
    _Format(
        "aws-secret-access-key",
        _AWS_SECRET_QUOTED,
        group=1,
        bounded=False,
        needles=("aws",),
        lower=True,
    ),
    # The same secret key in a .env file or YAML, where nothing quotes it.
    _Format(
        "aws-secret-access-key",
        re.compile(
            r"aws[\w.-]{0,20}?(?:key|secret)[\w.\"'\]-]{0,20}?\s*[=:]\s*[\"']?"
            r"([0-9a-zA-Z/+]{40})(?![0-9a-zA-Z/+=])",
            re.IGNORECASE,
        ),
        group=1,
        bounded=False,
        needles=("aws",),
        lower=True,
    ),
    _Format(
        "google-api-key",
        re.compile(r"AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
        needles=("AIza",),
    ),
    _Format(
        "huggingface-token",
        re.compile(r"hf_[A-Za-z0-9]{30,}(?![A-Za-z0-9_-])"),
        needles=("hf_",),
    ),
    *_plugin(StripeDetector, "stripe-key", needles=("k_live_",)),
    *_plugin(PypiTokenDetector, "pypi-token", needles=("pypi-",)),
    *_plugin(SendGridDetector, "sendgrid-key", needles=("SG.",)),
    *_plugin(NpmDetector, "npm-token", group=1, bounded=False, needles=("_authToken",)),
    *_plugin(SquareOAuthDetector, "square-secret", needles=("sq0csp-",)),
    *_plugin(
        AzureStorageKeyDetector,
        "azure-storage-key",
        keep_prefix="AccountKey=",
        needles=("AccountKey=",),
    ),
    *_plugin(TwilioKeyDetector, "twilio-key", needles=("AC", "SK")),
    *_plugin(MailchimpDetector, "mailchimp-key", needles=("-us",)),
    _Format(
        "jwt",
        JwtTokenDetector.denylist[0],
        valid=JwtTokenDetector.is_formally_valid,
        needles=("eyJ",),
        # The plugin's pattern ends lazily, before the signature: the whole token goes.
        tail=re.compile(r"[A-Za-z0-9_=-]*"),
    ),
    *_plugin(DiscordBotTokenDetector, "discord-token"),
    # scheme://user:password@host: the password only (scheme, user and host stay).
    *_plugin(BasicAuthDetector, "password", group=1, bounded=False, needles=("://",)),
    # redis://:password@host: the plugin wants a user name.
    _Format(
        "password",
        re.compile(r"://:([^:/?#\[\]@!$&'()*+,;=\s]+)@"),
        group=1,
        bounded=False,
        needles=("://:",),
    ),
]
# Private keys: detect-secrets finds the BEGIN line (ours adds ENCRYPTED PRIVATE KEY and
# any other PEM label); the block runs to its END line.
_KEY_BEGIN = [
    *PrivateKeyDetector.denylist,
    re.compile(r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"),
]
_KEY_END = re.compile(r"-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
# Without an END (a cut diff, a PuTTY file): the lines that look like key material.
_KEY_LINE = re.compile(r"[+ -]?(?:[A-Za-z0-9+/=]*|[A-Za-z][\w-]*: .*)")


def _format_spans(text: str, lowered: str) -> Iterator[tuple[int, int, str]]:
    for rule in _FORMATS:
        haystack = lowered if rule.lower else text
        if rule.needles and not any(needle in haystack for needle in rule.needles):
            continue
        for match in rule.pattern.finditer(text):
            start, end = match.span(rule.group)
            if start < 0 or start == end:
                continue
            if rule.bounded and start > 0 and _TOKEN_CHAR.match(text, start - 1):
                continue
            if rule.valid is not None and not rule.valid(match.group(rule.group)):
                continue
            if rule.keep_prefix and text.startswith(rule.keep_prefix, start):
                start += len(rule.keep_prefix)
            if rule.tail is not None:
                end = rule.tail.match(text, end).end()
            yield start, end, rule.kind
    yield from _private_key_spans(text)


def _private_key_spans(text: str) -> Iterator[tuple[int, int, str]]:
    for pattern in _KEY_BEGIN:
        for match in pattern.finditer(text):
            start = match.start()
            while start > 0 and start > match.start() - 5 and text[start - 1] == "-":
                start -= 1
            end_match = _KEY_END.search(text, match.end(), match.end() + PRIVATE_KEY_MAX)
            if end_match is not None:
                yield start, end_match.end(), "private-key"
                continue
            end = text.find("\n", match.end())
            end = len(text) if end < 0 else end
            while end < len(text):
                next_end = text.find("\n", end + 1)
                next_end = len(text) if next_end < 0 else next_end
                if not _KEY_LINE.fullmatch(text, end + 1, next_end):
                    break
                end = next_end
            yield start, end, "private-key"


# -- secrets recognised by their name --------------------------------------------------

# detect-secrets' KeywordDetector names (api_?key, password, secret...), and the ones
# it lacks. A name says secret when it ends with one of them: ``db_password`` and
# ``OPENAI_API_KEY`` do, ``password_hash``, ``token_count`` and ``max_tokens`` do not.
_EXTRA_NAMES = (
    "token",
    "access_?key",
    "secret_?key",
    "signing_?key",
    "encryption_?key",
    "master_?key",
    "credentials?",
    "passphrase",
    "pass",
    "authorization",
)
_NAME_ENDS = re.compile(
    r"(?:^|_)(?:{})$|(?:password|passwd|secret|token)$".format(
        "|".join((*KEYWORD_DENYLIST, *_EXTRA_NAMES))
    )
)
# Names that end like a secret and are not: the working directory, and the special
# tokens of a tokenizer or a page token (``pad_token = "<pad>"``).
_NOT_SECRET_NAMES = {"pwd", "oldpwd"}
_NOT_SECRET_BEFORE_TOKEN = {
    "pad", "bos", "eos", "unk", "cls", "sep", "mask", "special", "start", "end", "stop",
    "sot", "eot", "eod", "image", "audio", "video", "vision", "next", "page", "cursor",
    "continuation", "max", "min", "num", "n", "total", "first", "last", "new", "added",
}  # fmt: skip
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_SEPARATORS = re.compile(r"[\W_]+")
_HINTS = ("pass", "pwd", "secret", "token", "key", "credential", "contrase", "authoriz")
_HINT = re.compile("|".join(_HINTS))  # on lower-case text: much faster than IGNORECASE
_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


@functools.lru_cache(maxsize=4096)  # the same names recur line after line
def name_is_secret(name: str) -> bool:
    """Whether a variable, key or flag named ``name`` holds a secret: its last word is
    one (``password``, ``secret``, ``token``, ``api_key``, ``credentials``...), in any
    case or separator style (``dbPassword``, ``--api-key``, ``db.password``)."""
    if not _HINT.search(name.lower()):
        return False
    words = _SEPARATORS.sub("_", _CAMEL.sub(r"\1_\2", name)).lower().strip("_")
    if words in _NOT_SECRET_NAMES or not _NAME_ENDS.search(words):
        return False
    parts = words.split("_")
    return not (parts[-1] == "token" and len(parts) > 1 and parts[-2] in _NOT_SECRET_BEFORE_TOKEN)


_PLACEHOLDERS = {"none", "null", "nil", "true", "false", "undefined"}
_WORD_CHAR = re.compile(r"[^\W_]")
_MARKER_ONLY = re.compile(r"\[redacted:[a-z0-9-]+\]")


def _worth_hiding(value: str) -> bool:
    """Whether a value under a secret name is a secret, with detect-secrets' filters
    for what is not: a template (``{x}``, ``<x>``, ``${X}``), a variable (``$X``),
    nothing but punctuation (``*****``), a placeholder (``None``)."""
    value = value.strip()
    if not value or MARKER in value or value.lower() in _PLACEHOLDERS:
        return False
    if not _WORD_CHAR.search(value):
        return False
    return not (
        heuristic.is_templated_secret(value) or heuristic.is_prefixed_with_dollar_sign(value)
    )


def _hidden(value: str) -> str:
    """The marker for a secret value: its format's kind when it has a known format
    (``[redacted:kiroku-token]``), else ``[redacted:secret]``."""
    text = redact_text(value.strip())
    return text if _MARKER_ONLY.fullmatch(text) else redacted(NAMED_KIND)


_NAME = r"(?<![\w.-])(?P<name>[A-Za-z_][\w.-]*)"
# name = "value", name: 'value', "name": "value", name := "value", x["name"] = "value",
# name: str = "value", token=`value`: the quoted value of a secret name, in any file.
_QUOTED = re.compile(
    _NAME + r"""["'\]]{0,2}\s*(?::\s*[A-Za-z_][\w\[\], .|]*?\s*(?==))?"""
    r"""(?:=|:=|=>|==|!=|:)\s*[@rbuRBU]{0,2}"""
    r"""(?:"(?P<v1>(?:[^"\\\n]|\\.)*)"|'(?P<v2>(?:[^'\\\n]|\\.)*)'|`(?P<v3>[^`\n]*)`)"""
)
# --password hunter2, --api-key=abc: a command line in a script, a README, a CI file.
_FLAG = re.compile(
    r"(?<![\w-])--?(?P<name>[A-Za-z][\w.-]*)(?:=|[ \t]+)(?P<value>[^\s\"'`\\-][^\s\"'`\\;|&)]*)"
)
# KEY=value at the start of a line (a .env file, a shell script), diff marker allowed.
_ENV_LINE = re.compile(
    r"^[+ -]?[ \t]*(?:export[ \t]+|set[ \t]+|ENV[ \t]+)?(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)"
    r"=(?P<value>[^\s\"'`#][^\s]*)",
    re.MULTILINE,
)
# key: value and key = value unquoted, to the end of the line (YAML, INI, .env, TOML).
_CONFIG_LINE = re.compile(
    r"^[+ -]?[ \t-]*(?:export[ \t]+)?(?P<name>[A-Za-z_][\w.-]*)[\"']?[ \t]*[=:][ \t]*"
    r"(?P<value>[^\s\"'`#{\[&*!|>][^\n]*?)[ \t]*(?:[ \t]#.*)?$",
    re.MULTILINE,
)

CODE, CONFIG, TEXT = "code", "config", "text"
_PATTERNS = {
    CODE: (_QUOTED, _FLAG),
    CONFIG: (_QUOTED, _CONFIG_LINE, _FLAG),
    TEXT: (_QUOTED, _ENV_LINE, _FLAG),
}
_CONFIG_TYPES = {FileType.YAML, FileType.CONFIG, FileType.INI, FileType.PROPERTIES, FileType.TOML}
_CODE_SUFFIXES = (".ts", ".tsx", ".jsx", ".rb", ".rs", ".kt", ".scala", ".ipynb", ".r", ".jl")


def _mode(filename: str | None) -> str:
    """How assignments are read in a file: code (values must be quoted, as
    detect-secrets asks for code), config (YAML, INI, .env...: unquoted values too) or
    text (anything else: quoted values, ``KEY=value`` lines, flags)."""
    if not filename:
        return TEXT
    base = filename.rsplit("/", 1)[-1].lower()
    if base.startswith(".env") or base.endswith(".env") or base == ".envrc":
        return CONFIG
    kind = determine_file_type(base)
    if kind in _CONFIG_TYPES:
        return CONFIG
    if kind in (FileType.OTHER, FileType.EXAMPLE):
        return CODE if base.endswith(_CODE_SUFFIXES) else TEXT
    return CODE


def _assignment_spans(
    text: str, lowered: str, start: int, end: int, mode: str
) -> Iterator[tuple[int, int, str]]:
    """The values of secret names in ``text[start:end]``. Only a line that holds a
    secret-sounding word can name a secret, so the assignment patterns run on those
    lines alone, found with one pass over ``lowered`` (``text`` in lower case, same
    length)."""
    patterns = _PATTERNS[mode]
    line_end = start - 1
    for hint in _HINT.finditer(lowered, start, end):
        if hint.start() <= line_end:
            continue  # this line is done
        line_start = text.rfind("\n", start, hint.start()) + 1 or start
        newline = text.find("\n", hint.end(), end)
        line_end = end if newline < 0 else newline
        for pattern in patterns:
            for match in pattern.finditer(text, line_start, line_end):
                if not name_is_secret(match.group("name")):
                    continue
                value = match.group(match.lastgroup)  # the value: the last group of each
                if not _worth_hiding(value):
                    continue
                if pattern is not _QUOTED and heuristic.is_indirect_reference(f"x = {value}"):
                    continue
                yield (*match.span(match.lastgroup), NAMED_KIND)


_DIFF_FILE = re.compile(r"^diff --git .* \"?b/(?P<path>[^\n]*?)\"?$", re.MULTILINE)


def _sections(text: str, filename: str | None) -> Iterator[tuple[int, int, str]]:
    """``(start, end, mode)`` of each part of ``text``: one per file of a git diff."""
    if filename is not None or "diff --git " not in text:
        yield 0, len(text), _mode(filename)
        return
    headers = list(_DIFF_FILE.finditer(text))
    if not headers or headers[0].start() > 0:
        yield 0, headers[0].start() if headers else len(text), TEXT
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        yield header.start(), end, _mode(header.group("path"))


def _apply(text: str, spans: list[tuple[int, int, str, int]]) -> str:
    """``text`` with each span replaced by its marker; overlapping spans are merged and
    keep the kind of the one that ranks first (a known format before a name)."""
    if not spans:
        return text
    spans.sort(key=lambda span: (span[0], span[3], -span[1]))
    merged: list[list[Any]] = []
    for start, end, kind, rank in spans:
        if merged and start < merged[-1][1]:
            last = merged[-1]
            if rank < last[3]:
                last[2], last[3] = kind, rank
            last[1] = max(last[1], end)
        else:
            merged.append([start, end, kind, rank])
    out: list[str] = []
    position = 0
    for start, end, kind, _ in merged:
        out.append(text[position:start])
        out.append(redacted(kind))
        position = end
    out.append(text[position:])
    return "".join(out)


# -- the public functions --------------------------------------------------------------


def redact_text(text: str, *, filename: str | None = None) -> str:
    """``text`` with every secret replaced by ``[redacted:<kind>]``.

    ``filename`` says how named assignments are read (``.py``: quoted values only;
    ``.yaml``, ``.env``, ``.ini``: unquoted too); a git diff is read file by file from
    its own headers. Anything not a ``str`` is returned as it is.
    """
    if not isinstance(text, str) or not text:
        return text
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters grow in lower case ("İ"): ASCII only
        lowered = text.translate(_ASCII_LOWER)
    spans = [(start, end, kind, 0) for start, end, kind in _format_spans(text, lowered)]
    for start, end, mode in _sections(text, filename):
        spans += [
            (s, e, kind, 1) for s, e, kind in _assignment_spans(text, lowered, start, end, mode)
        ]
    return _apply(text, spans)


def redact_value(name: str | None, value: str) -> str:
    """A named text value (a param, a tag, a summary string, a config entry) as it may
    leave the machine: the whole value hidden when the name says secret
    (``{"db_password": "x"}`` → ``[redacted:secret]``), else the secrets inside it."""
    if not isinstance(value, str):
        return value
    if isinstance(name, str) and name_is_secret(name) and _worth_hiding(value):
        return _hidden(value)
    return redact_text(value)


def redact_json(value: Any, name: str | None = None) -> Any:
    """A JSON value with every string redacted; a string under a key that says secret
    is hidden whole. Numbers, booleans and null are kept."""
    if isinstance(value, str):
        return redact_value(name, value) if name is not None else redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_json(v, k if isinstance(k, str) else None) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_json(item, name) for item in value]
    return value


def redact_command(command: Sequence[str] | str) -> list[str] | str:
    """A command line without secrets: the value of a flag whose name says secret
    (``--token X``, ``--api-key=X``, ``--db-password X``) is hidden, and every argument
    is redacted as text (tokens, ``KEY=value``, URL passwords). A string command is
    redacted as text."""
    if isinstance(command, str):
        return redact_text(command)
    result: list[Any] = []
    hide_next = False
    for arg in command:
        if not isinstance(arg, str):
            result.append(arg)
            hide_next = False
            continue
        if hide_next:
            hide_next = False
            if not arg.startswith("--") and _worth_hiding(arg):
                result.append(_hidden(arg))
                continue
        flag, eq, value = arg.partition("=")
        if flag.startswith("-") and name_is_secret(flag):
            if not eq:
                hide_next = True
                result.append(arg)
            else:
                result.append(f"{flag}={_hidden(value)}" if _worth_hiding(value) else arg)
            continue
        result.append(redact_text(arg))
    return result


def redact_environment(environment: Mapping[str, Any]) -> dict[str, Any]:
    """A run's environment (python, packages, os, command, cwd, hostname...) with its
    command redacted as a command line and every other string as text (a package
    installed from ``git+https://user:token@…`` loses the token)."""
    result: dict[str, Any] = {}
    for key, value in environment.items():
        if key == "command" and isinstance(value, list | str):
            result[key] = redact_command(value)
        else:
            result[key] = redact_json(value, key)
    return result
