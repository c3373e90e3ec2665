"""A one-line progress display on stderr, with no dependency.

On a terminal the line is redrawn in place; elsewhere (CI logs, files) a line is
written at most every few seconds, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressLine:
    def __init__(
        self, label: str, total: int, *, unit: str = "points", stream: TextIO | None = None
    ) -> None:
        self.label = label
        self.total = max(total, 0)
        self.unit = unit
        self.stream = stream or sys.stderr
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_write = 0.0
        self._last_text = ""
        self._done = 0

    def _text(self) -> str:
        if self.total:
            percent = min(100, int(self._done * 100 / self.total))
            filled = percent // 5
            bar = "#" * filled + "-" * (20 - filled)
            return f"{self.label} [{bar}] {percent:3d}% {self._done:,}/{self.total:,} {self.unit}"
        return f"{self.label} {self._done:,} {self.unit}"

    def update(self, done: int, *, total: int | None = None) -> None:
        self._done = done
        if total is not None:
            self.total = total
        now = time.monotonic()
        if now - self._last_write < (0.2 if self._tty else 5.0):
            return
        self._write()
        self._last_write = now

    def _write(self) -> None:
        text = self._text()
        if text == self._last_text:
            return
        self._last_text = text
        try:
            if self._tty:
                self.stream.write("\r" + text + "\x1b[K")
            else:
                self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed stream at interpreter exit
            pass

    def close(self) -> None:
        self._write()
        if self._tty:
            try:
                self.stream.write("\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass
