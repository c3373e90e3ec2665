"""What the sender sends: batches of points taken from the queue, and the params,
tags, summary values and datasets waiting for their own small batches."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from kiroku import keys

# (key, value as sent, step, Unix seconds), as Run.log() queues it.
Point = tuple[str, Any, int, float]


@dataclass
class Pending:
    """A batch taken from memory (or read back from the spool), with its place in order."""

    seq: int
    record: dict[str, Any]
    spooled: bool = False

    @property
    def points(self) -> int:
        return int(self.record.get("points", 0))


class Meta:
    """Params, tags, summary values and datasets waiting to be sent; a later value for
    a key replaces a waiting one. Guarded by the sender's lock."""

    FIELDS = ("params", "tags", "summary", "datasets")
    LIMITS = {
        "params": keys.MAX_PARAMS_PER_BATCH,
        "tags": keys.MAX_TAGS_PER_BATCH,
        "summary": keys.MAX_SUMMARY_PER_BATCH,
        "datasets": keys.MAX_DATASETS_PER_BATCH,
    }

    def __init__(self) -> None:
        self.waiting: dict[str, dict[str, Any]] = {name: {} for name in self.FIELDS}

    def __bool__(self) -> bool:
        return any(self.waiting.values())

    def take(self, max_bytes: int) -> dict[str, Any]:
        """Up to the server's per-batch counts and about ``max_bytes`` of JSON."""
        body: dict[str, Any] = {}
        budget = max_bytes
        for name in self.FIELDS:
            waiting = self.waiting[name]
            chosen: dict[str, Any] = {}
            for key in list(waiting):
                size = len(key) + len(str(waiting[key])) * 2 + 16  # rough, errs high
                if len(chosen) >= self.LIMITS[name] or (chosen and size > budget):
                    break
                chosen[key] = waiting.pop(key)
                budget -= size
            if chosen:
                body[name] = list(chosen.values()) if name == "datasets" else chosen
        return body


def points_take(
    points: deque[Point], *, max_points: int, max_bytes: int, key_bytes: dict[str, int]
) -> list[dict[str, Any]]:
    """Pop the oldest points into one batch of at most ``max_points`` points and about
    ``max_bytes`` of JSON (``key_bytes`` caches each key's encoded length)."""
    batch: list[dict[str, Any]] = []
    budget = max_bytes - 64
    while points and len(batch) < max_points:
        key, value, step, ts = points[0]
        size = key_bytes.get(key)
        if size is None:
            size = key_bytes[key] = len(key.encode()) + 90  # the point's JSON, generously
        if batch and size > budget:
            break
        points.popleft()
        budget -= size
        batch.append({"key": key, "value": value, "step": step, "timestamp": ts})
    return batch
