"""Secrets recognised by their format, wherever they stand: detect-secrets' maintained
plugins and patterns of our own, each rule with the kind its marker names.

:func:`format_spans` finds them; it knows nothing of names or file types.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
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

PRIVATE_KEY_MAX = 64 * 1024  # how far after BEGIN the END of a key block is looked for

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


def format_spans(text: str, lowered: str) -> Iterator[tuple[int, int, str]]:
    """``(start, end, kind)`` of every secret of a known format in ``text``, overlaps
    included; ``lowered`` is ``text`` in lower case, of the same length."""
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
            tail = rule.tail.match(text, end) if rule.tail is not None else None
            if tail is not None:
                end = tail.end()
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
