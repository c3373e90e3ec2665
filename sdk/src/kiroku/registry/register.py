"""``Run.log_model``: a model's files uploaded as the run's artifacts under
``models/<name>/``, then a version registered from them
(``POST /projects/{slug}/models/{name}/versions``), which creates the model the first
time.

The registration is a ``FollowUp`` of the upload: it runs once every file is uploaded,
on an upload worker, and is skipped (and reported) when any file failed. The server has
no idempotency key for it, so a registration whose answer was lost and that is sent
again can make two versions.
"""

from __future__ import annotations

import logging
import os
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kiroku.artifacts.files import log_problem
from kiroku.artifacts.followups import FollowUp
from kiroku.artifacts.storage import Failed
from kiroku.artifacts.upload import Uploader
from kiroku.errors import InvalidInput
from kiroku.registry.refs import alias_problem, model_name_problem
from kiroku.registry.versions import models_path
from kiroku.transport import json_bytes

logger = logging.getLogger("kiroku")

MODELS_FOLDER = "models"
MAX_FLAVOR_LENGTH = 100


@dataclass(frozen=True)
class ModelUpload:
    """What one ``log_model()`` call uploads and registers: ``source`` (a local file
    or folder) as artifact ``artifact_name``; ``fields`` are the registration's
    optional fields that were given (flavor, metadata, description, aliases)."""

    name: str
    source: str
    artifact_name: str
    folder: bool
    fields: dict[str, Any]

    def registered_path(self, names: list[str]) -> str:
        """The artifact path the version is made of: the model's folder, or for a
        single file that file's artifact path."""
        if self.folder:
            return f"{MODELS_FOLDER}/{self.name}/"
        return names[0]


def model_upload_prepare(
    path: str | os.PathLike[str],
    name: Any,
    *,
    aliases: Any = None,
    metadata: Any = None,
    flavor: Any = None,
    description: Any = None,
) -> ModelUpload | str:
    """The upload ``log_model()`` queues, or why it cannot (a message for the
    reporter): what is cheap to check in the training thread."""
    clean = unicodedata.normalize("NFC", name) if isinstance(name, str) else name
    problem = model_name_problem(clean)
    if problem is not None:
        return f"log_model(): model name {name!r}: {problem}"
    source = os.fspath(path)
    folder = os.path.isdir(source)
    prefix = f"{MODELS_FOLDER}/{clean}"
    artifact_name = prefix if folder else f"{prefix}/{os.path.basename(source)}"
    problem = log_problem(source, artifact_name, caller="log_model")
    if problem is not None:
        return problem
    fields: dict[str, Any] = {}
    if aliases is not None:
        listed = [aliases] if isinstance(aliases, str) else aliases
        if not isinstance(listed, Sequence):
            return f"log_model(): aliases must be a list of names, not {type(aliases).__name__}"
        for alias in listed:
            if (why := alias_problem(alias)) is not None:
                return f"log_model(): alias {alias!r}: {why}"
        fields["aliases"] = list(dict.fromkeys(listed))
    if flavor is not None:
        if not isinstance(flavor, str) or len(flavor) > MAX_FLAVOR_LENGTH:
            return f"log_model(): flavor must be a string of at most {MAX_FLAVOR_LENGTH} characters"
        fields["flavor"] = flavor
    if description is not None:
        if not isinstance(description, str):
            return "log_model(): description must be a string"
        fields["description"] = description
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            return f"log_model(): metadata must be a dict, not {type(metadata).__name__}"
        try:
            json_bytes(dict(metadata))
        except (TypeError, ValueError) as exc:
            return f"log_model(): metadata must be plain JSON (no NaN): {exc}"
        fields["metadata"] = dict(metadata)
    return ModelUpload(str(clean), source, artifact_name, folder, fields)


def registration(uploader: Uploader, project: str, upload: ModelUpload) -> FollowUp:
    """The follow-up that registers ``upload`` as a new version of its model."""

    def work(run_id: str, names: list[str]) -> None:
        if not names:
            raise Failed(InvalidInput(f"{upload.source} holds no file to register"))
        body = {"run_id": run_id, "path": upload.registered_path(names), **upload.fields}
        answer = uploader.call("POST", f"{models_path(project, upload.name)}/versions", body)
        number = answer.get("version") if isinstance(answer, dict) else None
        logger.info("kiroku: registered model %r version %s", upload.name, number)

    return FollowUp(upload.name, work)
