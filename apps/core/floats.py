"""Non-finite floats on the wire: JSON carries them as "NaN", "Infinity", "-Infinity"."""

from __future__ import annotations

import math
from typing import overload

NON_FINITE_IN = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


@overload
def float_out(value: float) -> float | str: ...
@overload
def float_out(value: None) -> None: ...
@overload
def float_out(value: float | None) -> float | str | None: ...
def float_out(value: float | None) -> float | str | None:
    """A float as JSON carries it: itself, or "NaN", "Infinity", "-Infinity"."""
    if value is None:
        return None
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def is_finite(value: int | float) -> bool:
    """Whether a JSON number is a finite float64. An integer past float64's range is
    not (``math.isfinite`` raises OverflowError on one)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False
