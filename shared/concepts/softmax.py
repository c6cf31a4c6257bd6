"""softmax: turns scores into probabilities along one axis."""
import math
import warnings

import numpy as np

from shared import lazy
from shared.concepts import _softmax_family as family
from shared.spec import Concept, Hint, Oracle, Override, PortingCase, Side, Tolerance


def validate(x, *, axis):
    return family.validate("softmax", x, axis)


def _wide_closed_form(inputs):
    z = 1 + math.exp(-1000) + math.exp(-2000)
    return np.array([math.exp(-2000) / z, math.exp(-1000) / z, 1 / z])


def _overflow_closed_form(inputs):
    # exp(1010 - 1010), exp(-10), exp(-20) over their sum, in Python floats
    z = 1 + math.exp(-10) + math.exp(-20)
    return np.array([1 / z, math.exp(-10) / z, math.exp(-20) / z])


def _implicit_dim_softmax(x):
    import torch.nn.functional as F
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Implicit dimension choice ... deprecated"
        return F.softmax(x)


CONCEPT = Concept(
    name="softmax",
    module="activations",
    family="softmax_cross_entropy",
    lesson=1,
    hints=(Hint("forward", "softmax overflows on [1010, 1000, 990]: subtract the max before exp "
                  "(softmax(x) = softmax(x - max x), and exp never sees a large number)", case="overflow"),),
    math="y_k = exp(x_k) / sum_i exp(x_i) = exp(x_k - c) / sum_i exp(x_i - c), c = max_i x_i;  "
         "dx = y * (dy - sum(dy * y))",
    japanese="ソフトマックス関数",
    signature="softmax(x, *, axis=-1) -> same shape and dtype as x, sums to 1 along axis",
    differentiable=("x",),
    cases=family.cases(golden_book=lambda i: np.array([0.01821127, 0.24519181, 0.73659691]),
                       golden_overflow=_overflow_closed_form, golden_wide=_wide_closed_form),
    error_cases=family.error_cases("softmax"),
    oracles=(
        Oracle("numpy", "scipy.special.softmax", lambda x, axis=-1: lazy.scipy_special().softmax(x, axis=axis)),
        Oracle("torch", "torch.softmax", lambda x, axis=-1: lazy.torch().softmax(x, dim=axis)),
        Oracle("tf", "tf.nn.softmax", lambda x, axis=-1: lazy.tf().nn.softmax(x, axis=axis)),
        Oracle("tf", "keras.activations.softmax", lambda x, axis=-1: lazy.keras().activations.softmax(x, axis=axis)),
    ),
    porting=(
        PortingCase(
            "softmax-without-dim",
            "torch F.softmax(x) without dim is deprecated and picks dim=0 for 0-, 1- and 3-D "
            "input; tf.nn.softmax(x) uses the last axis.",
            lambda rng: {"x": rng.standard_normal((2, 3, 4))},
            reference=Side("tf", "tf.nn.softmax(x)", lambda x: lazy.tf().nn.softmax(x)),
            naive=Side("torch", "F.softmax(x)", _implicit_dim_softmax),
            fixed=Side("torch", "F.softmax(x, dim=-1)", lambda x: lazy.F().softmax(x, dim=-1)),
            source="torch.nn.functional._get_softmax_dim"),
    ),
    overrides=(
        Override("forward", Tolerance(5e-9, 0.0, "the book prints the values to 8 decimals"),
                 case="book-example", backend="numpy", dtype="float64"),
    ),
)
