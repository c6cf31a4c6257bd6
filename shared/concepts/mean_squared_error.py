"""mean_squared_error: the book's 1/2 sum of squares (2乗和誤差)."""
import numpy as np

from shared import checks, lazy
from shared.spec import Case, Concept, ErrorCase, Oracle, PortingCase, Side

BOOK_T = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0], dtype=float)


def validate(y, t):
    concept = "mean_squared_error"
    checks.require_floats(concept, y=y, t=t)
    checks.require_nonempty(concept, "y", y)
    if checks.shape_of(t) != checks.shape_of(y):
        raise ValueError(f"{concept}: t must have y's shape {checks.shape_of(y)}, "
                         f"got shape {checks.shape_of(t)}")


def _random(rng):
    return {"y": rng.standard_normal((3, 4)), "t": rng.standard_normal((3, 4))}


CONCEPT = Concept(
    name="mean_squared_error",
    module="losses",
    family="softmax_cross_entropy",
    lesson=6,
    math="E = 1/2 sum_k (y_k - t_k)^2  (a sum over everything: no mean over the batch);  dE/dy = y - t",
    japanese="2乗和誤差",
    signature="mean_squared_error(y, t) -> scalar",
    differentiable=("y",),
    cases=(
        Case("book-example", lambda rng: {"y": np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]),
                                          "t": BOOK_T.copy()},
             golden=lambda i: np.array(0.0975), note="ゼロから作る 4.2.1: 0.0975"),
        Case("random", _random, seed=41),
    ),
    error_cases=(
        ErrorCase("shape-mismatch", lambda: {"y": np.zeros(3), "t": np.zeros(4)},
                  ValueError, r"mean_squared_error: t must have y's shape \(3,\), got shape \(4,\)"),
        ErrorCase("integer-y", lambda: {"y": np.array([1, 2]), "t": np.array([1.0, 2.0])},
                  TypeError, r"mean_squared_error: y must be a floating-point array"),
        ErrorCase("empty-batch", lambda: {"y": np.zeros((0, 2)), "t": np.zeros((0, 2))},
                  ValueError, r"mean_squared_error: y is empty"),
    ),
    oracles=(
        Oracle("torch", "0.5 * F.mse_loss(reduction='sum')",
               lambda y, t: 0.5 * lazy.F().mse_loss(y, t, reduction="sum")),
        Oracle("tf", "tf.nn.l2_loss", lambda y, t: lazy.tf().nn.l2_loss(y - t)),
    ),
    porting=(
        PortingCase(
            "mse-mean-vs-half-sum",
            "The book's loss is 1/2 sum; torch MSELoss and Keras MeanSquaredError default to "
            "the mean: a factor 2 / (number of elements) in the loss and every gradient.",
            _random,
            reference=Side("tf", "tf.nn.l2_loss(y - t)", lambda y, t: lazy.tf().nn.l2_loss(y - t)),
            naive=Side("torch", "F.mse_loss(y, t)", lambda y, t: lazy.F().mse_loss(y, t)),
            fixed=Side("torch", "0.5 * F.mse_loss(y, t, reduction='sum')",
                       lambda y, t: 0.5 * lazy.F().mse_loss(y, t, reduction="sum")),
            source="ゼロから作る 4.2.1; torch.nn.MSELoss(reduction='mean')"),
    ),
)
