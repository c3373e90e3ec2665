"""The model registry, from the client: ``Run.log_model`` (upload and register a
version), ``Api.model("resnet@champion")`` and ``ModelVersion.download()`` (checked
against the manifest), and ``kiroku models``.

- ``refs``: model names, aliases and references (``resnet``, ``resnet/3``,
  ``resnet@champion``), with the server's rules.
- ``versions``: typed views of the server's answers, and the calls.
- ``download``: a version's files into a folder, verified before they are put there.
- ``register``: what ``log_model()`` checks, uploads and registers.
"""

from kiroku.registry.refs import ModelRef, model_ref_parse
from kiroku.registry.versions import (
    ManifestEntry,
    ModelAlias,
    ModelVersion,
    PromotionRequest,
    RegisteredModel,
)

__all__ = [
    "ManifestEntry",
    "ModelAlias",
    "ModelRef",
    "ModelVersion",
    "PromotionRequest",
    "RegisteredModel",
    "model_ref_parse",
]
