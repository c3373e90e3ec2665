"""What waits on a set of uploads: a ``FollowUp`` runs once every file of one
``Uploader.submit()`` is uploaded (``Run.log_model`` registers a model version with
one), and what ``finish()`` raises when files or follow-ups did not make it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kiroku.errors import KirokuError


def not_uploaded_error(
    failures: Sequence[tuple[str, KirokuError]],
    not_done: Sequence[tuple[str, KirokuError]] = (),
) -> KirokuError:
    """What ``finish()`` raises with ``strict=True`` when files were not uploaded
    (``failures``) or follow-ups not done (``not_done``, e.g. model versions not
    registered): the first one's kind of error, with a message that counts them all."""
    name, first = (list(failures) + list(not_done))[0]
    counts = [f"{len(failures)} artifact file(s) not uploaded"] if failures else []
    if not_done:
        counts.append(f"{len(not_done)} model version(s) not registered")
    return type(first)(
        f"{' and '.join(counts)}; {name!r}: {first.message}",
        status=first.status,
        code=first.code,
        field=first.field,
    )


@dataclass(frozen=True)
class FollowUp:
    """A job for once every file of one ``submit()`` is uploaded: ``work(run_id,
    names)`` gets the server's run id and the artifact paths uploaded, sorted (empty
    when the path held no file to upload). It may raise ``Failed``; it is retried only
    as far as it retries itself (``Uploader.call`` does, for transient failures).
    ``what`` names it in reports (a model's name)."""

    what: str
    work: Callable[[str, list[str]], None]


@dataclass
class Batch:
    """The files of one ``submit()`` that a follow-up waits for. ``pending`` counts the
    listing job until it has queued every file, and each file until it is done."""

    follow_up: FollowUp
    pending: int = 1
    abandoned: bool = False  # close() gave up on it (and reported it)
    names: list[str] = field(default_factory=list)
    failures: list[tuple[str, KirokuError]] = field(default_factory=list)
