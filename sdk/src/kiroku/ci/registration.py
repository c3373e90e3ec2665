"""``kiroku ci report --register-model``: the CI run's model registered as a new
version only when every gate passed.

The model's files (``--model-path``, required with ``--register-model``) are uploaded
with the run's artifacts under ``models/<name>/``, as ``Run.log_model`` puts them,
before the report: the run keeps them whatever the verdict, so a version the gates
refused can still be registered by hand later. The version itself is registered after
the server's verdict, and only when:

- no gate is violated (the server's ``regressed`` is false), and
- a baseline was found, or none was required: with no baseline nothing can have
  regressed, so the version is registered and the summary says it was not compared
  (``--require-baseline`` makes a missing baseline a failed gate, as for the exit code).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiroku.errors import InvalidInput
from kiroku.registry.refs import alias_problem, model_name_problem
from kiroku.registry.register import ModelUpload, model_upload_prepare


def model_check(name: str, *, aliases: list[str], path: str | None) -> ModelUpload:
    """What ``--register-model NAME --model-alias A --model-path PATH`` registers;
    InvalidInput (exit 2, before anything is sent) naming the flag at fault."""
    clean = unicodedata.normalize("NFC", name)
    if (problem := model_name_problem(clean)) is not None:
        raise InvalidInput(f"--register-model {name!r}: {problem}")
    for alias in aliases:
        if (problem := alias_problem(alias)) is not None:
            raise InvalidInput(f"--model-alias {alias!r}: {problem}")
    if not path:
        raise InvalidInput("--register-model needs --model-path: the model's file or folder")
    if not Path(path).exists():
        raise InvalidInput(f"--model-path {path!r} does not exist")
    upload = model_upload_prepare(path, clean, aliases=aliases or None)
    if isinstance(upload, str):
        raise InvalidInput(f"--model-path {path!r}: {upload.removeprefix('log_model(): ')}")
    return upload


def refusal(
    comparison: dict[str, Any], *, regressed: bool, baseline_missing: bool, required: bool
) -> str | None:
    """Why the version must not be registered (``Not registered: <this>``), or None
    when every gate passed."""
    if regressed:
        failed = [
            str(gate.get("expression") or gate.get("metric") or "?")
            for gate in comparison.get("gates") or []
            if isinstance(gate, dict) and gate.get("violated")
        ]
        if not failed:
            return "the run regressed"
        word = "gate" if len(failed) == 1 else "gates"
        return f"{word} {', '.join(failed)} failed"
    if baseline_missing and required:
        return "no baseline run was found (--require-baseline)"
    return None


@dataclass(frozen=True)
class Registration:
    """What became of ``--register-model``: ``version`` when registered, else
    ``reason`` (a refusal by the gates, or the error that stopped it)."""

    model: str
    aliases: tuple[str, ...] = ()
    version: int | None = None
    reason: str = ""
    baseline_missing: bool = False

    @property
    def registered(self) -> bool:
        return self.version is not None

    def text(self) -> str:
        """One line for people: ``Registered resnet v4 (alias staging)`` or
        ``Not registered: gate eval/acc<-0.01 failed`` (plain text; escape it)."""
        if self.version is None:
            return f"Not registered: {self.reason}"
        text = f"Registered {self.model} v{self.version}"
        if self.aliases:
            word = "alias" if len(self.aliases) == 1 else "aliases"
            text += f" ({word} {', '.join(self.aliases)})"
        if self.baseline_missing:
            text += ": no baseline to compare with, so no gate failed"
        return text
