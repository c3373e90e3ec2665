"""Model names, aliases and references, checked on the client with the server's rules
(``apps/registry``) so a bad one is refused before any request.

A reference names one version: ``resnet`` (the latest version that is not archived),
``resnet/3`` (version 3) or ``resnet@champion`` (the version the alias points at;
``resnet@latest`` is ``resnet``). Names may contain ``/``, so a last segment of digits
is read as a version number, as the server reads it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from kiroku.errors import InvalidInput
from kiroku.keys import MAX_KEY_LENGTH

LATEST = "latest"
MAX_ALIAS_LENGTH = 64
_NAME_RE = re.compile(r"^[\w\-. /]+$")
_ALIAS_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_VERSION_RE = re.compile(r"^[0-9]{1,18}$")


def model_name_problem(name: Any) -> str | None:
    """Why the server would refuse ``name`` (already NFC-normalised) as a model name,
    or None: the rules of metric keys, without ``/`` (it separates a name from a
    version number in ``resnet/3``)."""
    if not isinstance(name, str):
        return "a model name must be a string"
    if not 1 <= len(name) <= MAX_KEY_LENGTH:
        return f"a model name must be 1 to {MAX_KEY_LENGTH} characters"
    if not _NAME_RE.fullmatch(name):
        return "a model name may contain only letters, digits, '_', '-', '.' and spaces"
    if "/" in name:
        return "a model name must not contain '/'"
    if ".." in name:
        return "a model name must not contain '..'"
    return None


def model_name_clean(name: Any) -> str:
    """``name`` NFC-normalised (as the server stores it). Raises InvalidInput saying
    why the server would refuse it."""
    normalised = unicodedata.normalize("NFC", name) if isinstance(name, str) else name
    problem = model_name_problem(normalised)
    if problem is not None:
        raise InvalidInput(f"model name {name!r}: {problem}", field="name")
    return str(normalised)


def alias_problem(alias: Any) -> str | None:
    """Why the server would refuse ``alias`` as an alias name, or None."""
    if not isinstance(alias, str):
        return "an alias must be a string"
    if not 1 <= len(alias) <= MAX_ALIAS_LENGTH or not _ALIAS_RE.fullmatch(alias):
        return f"an alias is 1 to {MAX_ALIAS_LENGTH} letters, digits, '_' or '-'"
    if alias.isdigit():
        return "an alias must not be all digits (that reads as a version number)"
    if alias.lower() == LATEST:
        return f"{alias!r} is reserved: {LATEST!r} always means the latest version"
    return None


def alias_clean(alias: Any) -> str:
    """``alias`` when the server would take it. Raises InvalidInput saying why not."""
    problem = alias_problem(alias)
    if problem is not None:
        raise InvalidInput(f"alias {alias!r}: {problem}", field="alias")
    return str(alias)


def url_name(name: str) -> str:
    """A model name as one segment of an API path: names may hold ``/`` and spaces."""
    return quote(name, safe="")


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference: ``version`` or ``alias`` (never both); neither means the
    latest version. ``str()`` gives the canonical form the server resolves."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}/{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


def model_ref_parse(ref: Any) -> ModelRef:
    """``resnet`` / ``resnet/3`` / ``resnet@champion`` as a ModelRef. Raises
    InvalidInput for a reference the server would refuse (a bad name or alias,
    version 0)."""
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput(
            "a model reference is NAME, NAME/VERSION or NAME@ALIAS, e.g. resnet@champion",
            field="ref",
        )
    text = ref.strip()
    if "@" in text:
        name, _, alias = text.rpartition("@")
        clean = model_name_clean(name)
        if alias == LATEST:
            return ModelRef(clean)
        if alias.isdigit():
            raise InvalidInput(
                f"{text!r}: an alias is never all digits; for version {alias} write {name}/{alias}",
                field="ref",
            )
        return ModelRef(clean, alias=alias_clean(alias))
    head, slash, last = text.rpartition("/")
    if slash and _VERSION_RE.fullmatch(last):
        version = int(last)
        if version < 1:
            raise InvalidInput(f"{text!r}: versions are numbered from 1", field="ref")
        return ModelRef(model_name_clean(head), version=version)
    return ModelRef(model_name_clean(text))
