"""What the elementwise activations share: their validator, cases and error cases."""
from __future__ import annotations

import numpy as np

from shared import checks
from shared.spec import Case, ErrorCase


def validate_float(concept: str, x) -> None:
    checks.require_float(concept, "x", x)


def standard_cases(kwargs=None) -> tuple[Case, ...]:
    kwargs = kwargs or {}
    return (
        Case("random", lambda rng: {"x": 2 * rng.standard_normal((4, 5))}, kwargs, seed=1),
        # both tails and values near (not at) 0, where kinks and cancellations live
        Case("range", lambda rng: {"x": np.array([-30.0, -5.0, -1.0, -1e-3, 1e-3, 1.0, 5.0, 30.0])},
             kwargs, seed=2),
        Case("rank-3", lambda rng: {"x": rng.standard_normal((2, 3, 4))}, kwargs, seed=3),
    )


def error_cases(concept: str) -> tuple[ErrorCase, ...]:
    return (
        ErrorCase("integer-input", lambda: {"x": np.array([1, -2, 3])}, TypeError,
                  f"{concept}: x must be a floating-point array"),
    )
