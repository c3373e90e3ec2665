"""Gates on a comparison (``--fail-on``): ``KEY OP CHANGE[%]``, violated when the
change of a metric against the baseline satisfies ``OP CHANGE``. The CI step fails its
job on a violated gate; the compare API reports them."""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from apps.core.errors import Invalid
from apps.core.floats import float_out

if TYPE_CHECKING:
    from apps.runs.comparison import MetricLine

MAX_GATES = 50
MAX_GATE_LENGTH = 300

_GATE_RE = re.compile(
    r"^\s*(?P<key>[^<>=]*?)\s*(?P<op><=|>=|<|>)\s*"
    r"(?P<amount>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<percent>%)?\s*$"
)
_OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
GATE_HELP = (
    "KEY OP CHANGE, e.g. 'eval/acc<-0.01' (fail when acc dropped by more than 0.01) "
    "or 'loss>+5%' (fail when loss rose by more than 5%); OP is <, <=, > or >="
)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


@dataclass(frozen=True)
class Gate:
    """``metric op amount[%]``: violated when the change against the baseline (or its
    percentage) satisfies ``op amount``."""

    metric: str
    op: str
    amount: float
    percent: bool

    @property
    def expression(self) -> str:
        amount = f"{self.amount:+g}"
        return f"{self.metric}{self.op}{amount}{'%' if self.percent else ''}"

    def check(self, line: MetricLine | None) -> tuple[bool, str]:
        """(violated, why) for the metric's comparison line."""
        bound = f"{self.op} {self.amount:+g}{'%' if self.percent else ''}"
        if line is None or line.value is None:
            return True, f"{self.metric} was not logged by this run"
        if line.baseline is None:
            return False, f"{self.metric}: no baseline value to compare with"
        if not _finite(line.value) and _finite(line.baseline):
            return True, f"{self.metric} is {float_out(line.value)} (baseline {line.baseline:g})"
        change = line.percent if self.percent else line.delta
        if change is None:
            why = "the baseline is 0, so a percentage cannot be computed"
            if not _finite(line.baseline):
                why = f"the baseline value is {float_out(line.baseline)}"
            return False, f"{self.metric}: not evaluated ({why})"
        shown = f"{change:+.4g}{'%' if self.percent else ''}"
        if _OPERATORS[self.op](change, self.amount):
            return True, f"{self.metric} changed by {shown}, beyond the gate {bound}"
        return False, f"{self.metric} changed by {shown}, within the gate {bound}"


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    violated: bool
    reason: str


def gate_parse(text: object, *, field: str = "fail_on") -> Gate:
    """Parse one ``--fail-on`` expression; raises Invalid naming the field and the
    expected form."""
    if not isinstance(text, str) or not text.strip():
        raise Invalid(f"{field} must be a non-empty string: {GATE_HELP}", field=field)
    if len(text) > MAX_GATE_LENGTH:
        raise Invalid(f"{field} is longer than {MAX_GATE_LENGTH} characters", field=field)
    match = _GATE_RE.match(text)
    if match is None or not match["key"]:
        raise Invalid(f"{field} {text!r} is not a gate: {GATE_HELP}", field=field)
    amount = float(match["amount"])
    if not math.isfinite(amount):
        raise Invalid(f"{field} {text!r}: the change must be a finite number", field=field)
    return Gate(match["key"], match["op"], amount, bool(match["percent"]))


def gates_parse(values: object, *, field: str = "fail_on") -> list[Gate]:
    if values is None:
        return []
    if not isinstance(values, list):
        raise Invalid(f"{field} must be a list of gate expressions", field=field)
    if len(values) > MAX_GATES:
        raise Invalid(f"{field} takes at most {MAX_GATES} gates", field=field)
    return [gate_parse(value, field=f"{field}[{i}]") for i, value in enumerate(values)]
