"""What the learning-rate schedules share: the step input's validation. A schedule is a pure
function of the step (a float array of step numbers 0, 1, 2, ...: several at once, in the
dtype under test), so that the three frameworks can be compared like any other function."""
from __future__ import annotations

import numbers

from shared import checks


def validate_step(concept: str, step) -> None:
    checks.require_float(concept, "step", step)
    v = checks.values(step)
    if v is not None and v.size and v.min() < 0:
        raise ValueError(f"{concept}: step must be >= 0 (0 is the first step), got {float(v.min()):g}")


def require_count(concept: str, arg: str, value, minimum: int) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{concept}: {arg} must be an int >= {minimum}, got {value!r}")


def require_positive(concept: str, arg: str, value) -> None:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"{concept}: {arg} must be a number > 0, got {value!r}")
