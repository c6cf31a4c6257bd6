"""What the metric-learning losses (距離学習) share: the embedding checks and the
plain-Python distances their golden values are built from."""
import math
import numbers

from shared import checks

REDUCTIONS = ("mean", "sum", "none")


def validate_embeddings(concept, arrays, *, margin, reduction):
    """`arrays` is ((name, array), ...): float embeddings [N, D], all of the first one's shape."""
    (first, x), *rest = arrays
    checks.require_floats(concept, **dict(arrays))
    for name, value in arrays:
        checks.require_rank(concept, name, value, (2,), " (a batch of embeddings [N, D])")
    checks.require_nonempty(concept, first, x)
    shape = checks.shape_of(x)
    for name, value in rest:
        if checks.shape_of(value) != shape:
            raise ValueError(f"{concept}: {name} must have {first}'s shape {shape}, "
                             f"got shape {checks.shape_of(value)}")
    checks.require_nonnegative(concept, "margin", margin)
    checks.require_choice(concept, "reduction", reduction, REDUCTIONS)


def require_at_least_one(concept, arg, value):
    # below 1 the "p-norm" is no norm (no triangle inequality), and torch's p = 0 counts non-zeros
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 1 <= value < math.inf:
        raise ValueError(f"{concept}: {arg} must be a finite number >= 1, got {value!r}")


def p_norm(values, p):
    return sum(abs(v) ** p for v in values) ** (1 / p)


def reduce(losses, reduction):
    """A list of per-pair losses reduced in plain Python (the golden values' last step)."""
    if reduction == "none":
        return losses
    total = math.fsum(losses)
    return total / len(losses) if reduction == "mean" else total
