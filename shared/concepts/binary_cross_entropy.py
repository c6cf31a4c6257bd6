"""binary_cross_entropy: cross-entropy of independent yes/no outputs."""
import math

import numpy as np

from shared import checks, lazy
from shared.concepts.cross_entropy import BOOK_LOG_GUARD, REDUCTIONS, reduce_tf
from shared.spec import Case, Concept, ErrorCase, Oracle, PortingCase, Side


def validate(y, t, *, from_logits=False, reduction="mean", log_guard=BOOK_LOG_GUARD):
    concept = "binary_cross_entropy"
    checks.require_float(concept, "y", y)
    checks.require_nonempty(concept, "y", y)
    checks.require_choice(concept, "reduction", reduction, REDUCTIONS)
    checks.require_array(concept, "t", t)
    if checks.shape_of(t) != checks.shape_of(y):
        raise ValueError(f"{concept}: t must have y's shape {checks.shape_of(y)}, "
                         f"got shape {checks.shape_of(t)}")
    if checks.dtype_name(t) not in checks.INT_DTYPES:  # 0/1 integer targets are fine too
        checks.require_floats(concept, y=y, t=t)
    checks.require_probabilities(concept, "t", t, "targets are probabilities")
    checks.require_nonnegative(concept, "log_guard", log_guard)
    checks.require_bool(concept, "from_logits", from_logits)
    if not from_logits:
        checks.require_probabilities(concept, "y", y, "pass from_logits=True for logits")


def _probs(rng):
    return {"y": 1 / (1 + np.exp(-2 * rng.standard_normal((4, 3)))),
            "t": rng.integers(0, 2, (4, 3)).astype(np.float64)}


def _logits(rng):
    return {"y": 3 * rng.standard_normal((4, 3)), "t": rng.integers(0, 2, (4, 3)).astype(np.float64)}


def _logits_soft(rng):
    return {"y": 3 * rng.standard_normal(8), "t": rng.uniform(0, 1, 8)}


def _extreme_closed_form(inputs):
    # per element: softplus(x) - x t; for |x| = 100 exp(-100) is below float64's half ulp of 1
    x, t = inputs["y"], inputs["t"]
    per = [max(v, 0) - v * w + math.log1p(math.exp(-abs(v))) for v, w in zip(x, t)]
    return np.array(sum(per) / len(per))


def _from_logits(case):
    return case.kwargs.get("from_logits", False)


def _keras_bce_object(**kw):
    return lambda y, t: lazy.keras().losses.BinaryCrossentropy(**kw)(t, y)


CONCEPT = Concept(
    name="binary_cross_entropy",
    module="losses",
    family="softmax_cross_entropy",
    lesson=5,
    math="E = -mean[t log(y + 1e-7) + (1 - t) log(1 - y + 1e-7)];  "
         "from logits x: mean[max(x, 0) - x t + log(1 + exp(-|x|))]",
    japanese="2値交差エントロピー誤差",
    signature='binary_cross_entropy(y, t, *, from_logits=False, reduction="mean", log_guard=1e-7)',
    differentiable=("y",),
    cases=(
        Case("probabilities", _probs, seed=31),
        Case("probabilities-sum", _probs, {"reduction": "sum"}, seed=32),
        Case("logits", _logits, {"from_logits": True}, seed=33),
        Case("logits-soft-targets", _logits_soft, {"from_logits": True}, seed=34),
        Case("logits-none", _logits, {"from_logits": True, "reduction": "none"}, seed=35),
        Case("logits-at-zero", lambda rng: {"y": np.array([0.0, 0.0, -0.0, 1.0]),
                                            "t": np.array([1.0, 0.0, 0.5, 1.0])},
             {"from_logits": True}, golden_grad=lambda i, v: {"y": v * (1 / (1 + np.exp(-i["y"])) - i["t"]) / 4},
             note="dE/dx = sigmoid(x) - t, 0.5 - t at 0, where max(x, 0) and |x| have kinks"),
        Case("logits-extreme", lambda rng: {"y": np.array([-100.0, -30.0, 30.0, 100.0]),
                                            "t": np.array([1.0, 0.0, 1.0, 0.0])},
             {"from_logits": True}, golden=_extreme_closed_form,
             note="log(sigmoid(-100)) written naively is log(0) in float32"),
    ),
    error_cases=(
        ErrorCase("shape-mismatch", lambda: {"y": np.full((2, 3), 0.5), "t": np.ones((3, 2))},
                  ValueError, r"binary_cross_entropy: t must have y's shape \(2, 3\), got shape \(3, 2\)"),
        ErrorCase("integer-y", lambda: {"y": np.array([0, 1]), "t": np.array([0.0, 1.0])},
                  TypeError, r"binary_cross_entropy: y must be a floating-point array"),
        ErrorCase("empty-batch", lambda: {"y": np.zeros((0,)), "t": np.zeros((0,))},
                  ValueError, r"binary_cross_entropy: y is empty"),
    ),
    oracles=(
        Oracle("torch", "F.binary_cross_entropy_with_logits",
               lambda y, t, from_logits=True, reduction="mean":
               lazy.F().binary_cross_entropy_with_logits(y, t, reduction=reduction),
               applies=_from_logits),
        Oracle("tf", "tf.nn.sigmoid_cross_entropy_with_logits",
               lambda y, t, from_logits=True, reduction="mean":
               reduce_tf(lazy.tf().nn.sigmoid_cross_entropy_with_logits(labels=t, logits=y), reduction),
               applies=_from_logits),
    ),
    porting=(
        PortingCase(
            "bce-probabilities-at-0-and-1",
            "From probabilities, torch BCELoss clamps each log at -100 (loss 100 for a "
            "confident wrong answer); Keras clips p to [1e-7, 1 - 1e-7] (loss 16.118, float32: 15.942).",
            lambda rng: {"y": np.array([0.0, 1.0, 0.3, 0.8]), "t": np.array([1.0, 0.0, 1.0, 1.0])},
            reference=Side("tf", "keras.losses.BinaryCrossentropy()(t, p)", _keras_bce_object()),
            naive=Side("torch", "F.binary_cross_entropy(p, t)",
                       lambda y, t: lazy.F().binary_cross_entropy(y, t)),
            fixed=Side("torch", "F.binary_cross_entropy(p.clamp(1e-7, 1 - 1e-7), t)",
                       lambda y, t: lazy.F().binary_cross_entropy(y.clamp(1e-7, 1 - 1e-7), t)),
            source="torch.nn.BCELoss docs ('clamps its log function outputs to be >= -100'); keras epsilon"),
    ),
)
