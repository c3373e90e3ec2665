"""Writes to the model registry. Each function takes the acting principal, checks the
role, writes in one transaction and records its audit event.

Viewers read; members register models and versions, edit them, move aliases that are
not protected and open promotion requests; admins also protect aliases, decide
promotion requests, archive versions and delete models. Version numbers and alias
moves are decided under a lock on the model's row, so concurrent registrations get
consecutive numbers and concurrent moves leave one consistent state."""

from __future__ import annotations

from apps.registry.services.aliases import alias_delete, alias_protect, alias_set
from apps.registry.services.common import version_label
from apps.registry.services.guards import artifact_delete_guard, run_delete_guard
from apps.registry.services.models import model_create, model_delete, model_update
from apps.registry.services.promotions import promotion_decide, promotion_request
from apps.registry.services.versions import version_create, version_files, version_update

__all__ = [
    "alias_delete",
    "alias_protect",
    "alias_set",
    "artifact_delete_guard",
    "model_create",
    "model_delete",
    "model_update",
    "promotion_decide",
    "promotion_request",
    "run_delete_guard",
    "version_create",
    "version_files",
    "version_label",
    "version_update",
]
