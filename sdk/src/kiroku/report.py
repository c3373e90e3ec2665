"""Problems told to the user once each, through the ``kiroku`` logger.

Training loops call ``log()`` millions of times; a bad key or a refused batch must not
print millions of lines. Each kind of problem is shown the first time and counted
after that; ``summary()`` tells how many were suppressed.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

logger = logging.getLogger("kiroku")


class Reporter:
    """Thread-safe: the training thread and the sender both report."""

    def __init__(self) -> None:
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def once(self, kind: str, message: str, *, level: int = logging.WARNING) -> bool:
        """Log ``message`` the first time ``kind`` is reported; count it after that.
        Returns True when it was shown."""
        with self._lock:
            self._seen[kind] += 1
            first = self._seen[kind] == 1
        if first:
            logger.log(level, "kiroku: %s", message)
        return first

    def count(self, kind: str) -> int:
        return self._seen[kind]

    def summary(self) -> str | None:
        """A line about the problems shown once and repeated since, or None."""
        repeated = {k: n - 1 for k, n in self._seen.items() if n > 1}
        if not repeated:
            return None
        total = sum(repeated.values())
        return f"{total} more problem(s) of the kinds reported above were not shown again"
