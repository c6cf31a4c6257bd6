"""What softmax and log_softmax share: validation, cases and error cases."""
from __future__ import annotations

import numpy as np

from shared import checks
from shared.spec import Case, ErrorCase


def validate(concept: str, x, axis) -> int:
    checks.require_float(concept, "x", x)
    checks.require_min_rank(concept, "x", x, 1)
    checks.require_nonempty(concept, "x", x)
    return checks.normalize_axis(concept, axis, len(checks.shape_of(x)))


BOOK_EXAMPLE = np.array([0.3, 2.9, 4.0])
OVERFLOW = np.array([1010.0, 1000.0, 990.0])
# a spread of 2000: shifting by anything but the max (the min, the mean) overflows exp
WIDE = np.array([-1000.0, 0.0, 1000.0])


def cases(golden_book=None, golden_overflow=None, golden_wide=None) -> tuple[Case, ...]:
    return (
        Case("book-example", lambda rng: {"x": BOOK_EXAMPLE.copy()}, golden=golden_book,
             note="ゼロから作る 3.5.1: softmax([0.3, 2.9, 4.0])"),
        Case("overflow", lambda rng: {"x": OVERFLOW.copy()}, golden=golden_overflow,
             note="ゼロから作る 3.5.2: exp(1010) overflows; subtracting the max fixes it"),
        Case("wide-spread", lambda rng: {"x": WIDE.copy()}, golden=golden_wide,
             note="[-1000, 0, 1000]: only the max shift keeps exp finite (exp(2000) after a min shift)"),
        Case("batch", lambda rng: {"x": 3 * rng.standard_normal((4, 5))}, seed=11),
        Case("axis-0", lambda rng: {"x": rng.standard_normal((4, 3))}, {"axis": 0}, seed=12),
        Case("rank-3-axis-1", lambda rng: {"x": rng.standard_normal((2, 4, 3))}, {"axis": 1}, seed=13),
    )


def error_cases(concept: str) -> tuple[ErrorCase, ...]:
    return (
        ErrorCase("integer-input", lambda: {"x": np.array([1, 2, 3])}, TypeError,
                  f"{concept}: x must be a floating-point array"),
        ErrorCase("scalar-input", lambda: {"x": np.array(1.0)}, ValueError,
                  rf"{concept}: x must have rank >= 1, got rank 0"),
        ErrorCase("empty-batch", lambda: {"x": np.zeros((0, 3))}, ValueError,
                  rf"{concept}: x is empty \(shape \(0, 3\)\)"),
        ErrorCase("axis-out-of-range", lambda: {"x": np.zeros((2, 3))}, ValueError,
                  rf"{concept}: axis must be an int in \[-2, 1\] for rank-2 input, got 2", {"axis": 2}),
    )
