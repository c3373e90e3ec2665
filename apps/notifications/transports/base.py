"""What every notifier is: one class per kind with ``send`` and ``test``."""

from __future__ import annotations

from dataclasses import dataclass

from apps.notifications.models import Delivery, Destination
from apps.notifications.report_content import Report


class TransportError(Exception):
    """A send that did not succeed.

    ``code`` is short and safe to show to admins (the remote's error code such as
    ``channel_not_found``, or ``http_503``, ``timeout``) — never the remote body.
    ``permanent`` errors stop the delivery and, unless ``destination_ok`` (the message
    itself was refused: a bug of ours, not the admin's to fix), mark the destination
    broken; transient ones are retried, after at least ``retry_after`` seconds when the
    remote said so (429 Retry-After).
    """

    def __init__(
        self,
        code: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        destination_ok: bool = False,
    ) -> None:
        super().__init__(code)
        self.code = code[:100]
        self.permanent = permanent
        self.retry_after = retry_after
        self.destination_ok = destination_ok


@dataclass(frozen=True)
class Sent:
    remote_id: str  # Slack ts / Notion page id
    thread_ts: str = ""  # Slack: the thread it went into


class Notifier:
    """Base class. Subclasses talk to their service through its official client only,
    with the base URL from settings (``KIROKU_SLACK_API_URL`` / ``KIROKU_NOTION_API_URL``).
    """

    kind: str = ""

    def __init__(self, destination: Destination) -> None:
        self.destination = destination

    def send(self, delivery: Delivery, report: Report) -> Sent:
        """Post the message for ``delivery`` exactly once.

        When ``delivery.attempts > 1`` an earlier attempt may have reached the remote
        (a timeout after it accepted the message, a lost worker): the notifier first
        looks for its own earlier message by ``report.key`` and returns it instead of
        posting again. Raises ``TransportError``.
        """
        raise NotImplementedError

    def test(self) -> None:
        """The destination's "send test message" step: check the credentials and the
        target, prepare the target (Notion: the "Kiroku ID" property) and post a short
        test message. Raises ``TransportError``."""
        raise NotImplementedError

    def pace_key(self) -> str | None:
        """A key for destinations that must be paced across workers (Slack: one
        channel), or None."""
        return None

    @staticmethod
    def record_progress(delivery: Delivery, *, remote_id: str, progress: int = 0) -> None:
        """Save, at once and outside any transaction, what a multi-request send has done
        so far (Notion: the page, then each batch of blocks appended), so a retry goes
        on from there instead of starting over."""
        delivery.remote_id = remote_id
        delivery.progress = progress
        Delivery.objects.filter(pk=delivery.pk).update(remote_id=remote_id, progress=progress)
