"""One notifier per destination kind, each in its own package; ``REGISTRY`` maps the
kind to the dotted path of its class (the kinds' choices come from the model)."""

from __future__ import annotations

from django.utils.module_loading import import_string

from apps.notifications.transports.base import Notifier

REGISTRY: dict[str, str] = {
    "slack": "apps.notifications.transports.slack.notifier.SlackNotifier",
    "notion": "apps.notifications.transports.notion.notifier.NotionNotifier",
}


def notifier_for(destination) -> Notifier:
    cls = import_string(REGISTRY[destination.kind])
    return cls(destination)
