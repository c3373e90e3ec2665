"""Checking ``--fail-on`` and ``--baseline`` before anything is sent.

The server evaluates the gates (``GET /runs/{id}/compare``); the CLI only makes sure
a typo stops the job with exit 2 instead of reaching it. The grammar is the server's
(apps.runs.gates): ``KEY OP CHANGE[%]`` with OP one of ``<``, ``<=``, ``>``, ``>=``.
"""

from __future__ import annotations

import math
import re

from kiroku.errors import InvalidInput
from kiroku.keys import RUN_ID_RE, key_clean

MAX_GATES = 50
_GATE_RE = re.compile(
    r"^\s*(?P<key>[^<>=]*?)\s*(?P<op><=|>=|<|>)\s*"
    r"(?P<amount>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<percent>%)?\s*$"
)
GATE_HELP = (
    "expected KEY OP CHANGE, e.g. 'eval/acc<-0.01' (fail when acc dropped by more than "
    "0.01) or 'loss>+5%' (fail when loss rose by more than 5%); OP is <, <=, > or >="
)
BASELINE_HELP = "expected branch:NAME, run:ID, best:METRIC:max, best:METRIC:min or project"


def gate_check(text: str) -> str:
    """The gate's metric key; raises InvalidInput naming the expression."""
    match = _GATE_RE.match(text)
    if match is None or not match["key"]:
        raise InvalidInput(f"--fail-on {text!r}: {GATE_HELP}")
    if not math.isfinite(float(match["amount"])):
        raise InvalidInput(f"--fail-on {text!r}: the change must be a finite number")
    key, problem = key_clean(match["key"])
    if key is None:
        raise InvalidInput(f"--fail-on {text!r}: bad metric key ({problem})")
    return key


def gates_check(texts: list[str]) -> list[str]:
    if len(texts) > MAX_GATES:
        raise InvalidInput(f"at most {MAX_GATES} --fail-on gates; got {len(texts)}")
    for text in texts:
        gate_check(text)
    return [text.strip() for text in texts]


def baseline_check(text: str) -> str:
    """``text`` when it is a baseline spec the server understands; InvalidInput if not."""
    kind, _, rest = text.partition(":")
    ok = (
        text == "project"
        or (kind == "branch" and rest.strip() != "")
        or (kind == "run" and RUN_ID_RE.fullmatch(rest) is not None)
        or (kind == "best" and re.match(r"^.+:(max|min)$", rest) is not None)
    )
    if not ok:
        raise InvalidInput(f"--baseline {text!r}: {BASELINE_HELP}")
    return text
