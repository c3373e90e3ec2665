"""Secret redaction: one set of rules for everything a run carries off the machine.

The SDK applies it before anything leaves the process (git diff, command line,
environment, params, tags, summary values, ``kiroku ci report`` inputs) and the server
applies the same rules to the diffs, commands and environments it stores, so what is
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

The rules live by concept: ``formats`` (secrets recognised by their format),
``names`` (by their name), ``assignments`` (named values as each file type writes
them, diffs file by file), ``text`` (:func:`redact_text`) and ``values`` (params,
JSON, command lines, environments). Import from ``kiroku.redaction`` itself.
"""

from __future__ import annotations

from kiroku.redaction.markers import MARKER, redacted
from kiroku.redaction.names import name_is_secret
from kiroku.redaction.text import redact_text
from kiroku.redaction.values import redact_command, redact_environment, redact_json, redact_value

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
