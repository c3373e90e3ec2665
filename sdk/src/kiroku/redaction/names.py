"""Secrets recognised by their name: a variable, key or flag whose last word says
secret (:func:`name_is_secret`), and whether the value it holds is worth hiding
(:func:`worth_hiding`), with detect-secrets' keyword list and false-positive filters.
"""

from __future__ import annotations

import functools
import re

from detect_secrets.filters import heuristic
from detect_secrets.plugins.keyword import DENYLIST as KEYWORD_DENYLIST

from kiroku.redaction.markers import MARKER

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
HINT = re.compile("|".join(_HINTS))  # on lower-case text: much faster than IGNORECASE


@functools.lru_cache(maxsize=4096)  # the same names recur line after line
def name_is_secret(name: str) -> bool:
    """Whether a variable, key or flag named ``name`` holds a secret: its last word is
    one (``password``, ``secret``, ``token``, ``api_key``, ``credentials``...), in any
    case or separator style (``dbPassword``, ``--api-key``, ``db.password``)."""
    if not HINT.search(name.lower()):
        return False
    words = _SEPARATORS.sub("_", _CAMEL.sub(r"\1_\2", name)).lower().strip("_")
    if words in _NOT_SECRET_NAMES or not _NAME_ENDS.search(words):
        return False
    parts = words.split("_")
    return not (parts[-1] == "token" and len(parts) > 1 and parts[-2] in _NOT_SECRET_BEFORE_TOKEN)


_PLACEHOLDERS = {"none", "null", "nil", "true", "false", "undefined"}
_WORD_CHAR = re.compile(r"[^\W_]")


def worth_hiding(value: str) -> bool:
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
