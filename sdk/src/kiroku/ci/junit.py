"""JUnit XML test reports, summed into the counts ``kiroku ci report`` records.

Parsed with defusedxml, which refuses DTDs and entity declarations (a report is
untrusted input: a billion-laughs document would otherwise expand in memory). Counts
come from the ``<testcase>`` elements, not from the suites' attributes, which many tools
leave out or get wrong.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.parsers import expat

from kiroku.ci.files import read_bytes
from kiroku.errors import InvalidInput

MAX_FAILED_NAMES = 50
_ROOTS = ("testsuites", "testsuite")


@dataclass(frozen=True)
class JUnitSummary:
    """Test counts and total time of one or more JUnit files. ``failed`` names the
    failing and erroring tests (``classname.name``) in file order, at most
    ``MAX_FAILED_NAMES`` of them; ``failed_total`` counts them all."""

    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0
    time: float = 0.0
    failed: tuple[str, ...] = ()
    failed_total: int = 0

    @property
    def passed(self) -> int:
        """Tests that neither failed, errored nor were skipped (never below 0)."""
        return max(0, self.tests - self.failures - self.errors - self.skipped)

    def metrics(self) -> dict[str, float]:
        """The counts as the run's ``junit/*`` metrics."""
        return {
            "junit/tests": float(self.tests),
            "junit/passed": float(self.passed),
            "junit/failures": float(self.failures),
            "junit/errors": float(self.errors),
            "junit/skipped": float(self.skipped),
            "junit/time": self.time,
        }

    def as_json(self) -> dict[str, Any]:
        """The summary as the ``junit`` object of the ci-report request."""
        return {
            "tests": self.tests,
            "passed": self.passed,
            "failures": self.failures,
            "errors": self.errors,
            "skipped": self.skipped,
            "time": self.time,
            "failed": list(self.failed),
            "failed_total": self.failed_total,
        }


def read_junit_files(paths: Sequence[str | os.PathLike[str]]) -> JUnitSummary:
    """The summary of all ``paths`` together (zeros for none). A test case with a
    ``<failure>`` counts as a failure, else one with an ``<error>`` as an error, else one
    with ``<skipped>`` as skipped; time is the sum of the cases' ``time`` (missing: 0),
    rounded to the microsecond. Raises InvalidInput naming the file (and the line and
    column, or the test) for a missing, empty, malformed or hostile file, a root other
    than ``<testsuites>``/``<testsuite>``, or a time that is not a finite number."""
    tests = failures = errors = skipped = 0
    times: list[float] = []
    failed: list[str] = []
    for raw_path in paths:
        path = os.fspath(raw_path)
        root = _parse(path)
        if _local(root.tag) not in _ROOTS:
            raise InvalidInput(
                f"{path}: the root element is <{_local(root.tag)}>; "
                "expected <testsuites> or <testsuite>"
            )
        for case in root.iter("testcase"):
            tests += 1
            name = _case_name(case)
            times.append(_case_time(path, name, case.get("time")))
            if case.find("failure") is not None:
                failures += 1
                failed.append(name)
            elif case.find("error") is not None:
                errors += 1
                failed.append(name)
            elif case.find("skipped") is not None:
                skipped += 1
    return JUnitSummary(
        tests=tests,
        failures=failures,
        errors=errors,
        skipped=skipped,
        time=round(math.fsum(times), 6),
        failed=tuple(failed[:MAX_FAILED_NAMES]),
        failed_total=len(failed),
    )


def _parse(path: str) -> Any:
    try:
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import ParseError, fromstring
    except ImportError:
        raise InvalidInput("reading JUnit XML needs defusedxml: pip install 'kiroku[ci]'") from None
    data = read_bytes(path, "JUnit file")
    try:
        # Bytes, not text: the XML declaration may name another encoding.
        return fromstring(data, forbid_dtd=True)
    except DefusedXmlException:
        raise InvalidInput(f"JUnit file {path!r} declares entities or a DTD; refused") from None
    except ParseError as exc:
        line, column = exc.position
        reason = expat.ErrorString(exc.code)
        # expat counts columns from 0; editors (and the other readers' messages) from 1.
        raise InvalidInput(
            f"{path} line {line} column {column + 1}: malformed XML ({reason})"
        ) from None


def _local(tag: Any) -> str:
    """A tag without its ``{namespace}``; comments and processing instructions are ''."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _case_name(case: Any) -> str:
    name = case.get("name") or ""
    classname = case.get("classname")
    return f"{classname}.{name}" if classname else name


def _case_time(path: str, name: str, raw: str | None) -> float:
    if raw is None or not raw.strip():
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidInput(f"{path}: test {name!r} has time {raw!r}, not a number")
    return value
