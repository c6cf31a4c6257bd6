"""log_softmax: log(softmax(x)) computed without ever taking log(0)."""
import math

import numpy as np

from shared import lazy
from shared.concepts import _softmax_family as family
from shared.spec import Concept, Oracle, PortingCase, Side


def validate(x, *, axis):
    return family.validate("log_softmax", x, axis)


def _overflow_closed_form(inputs):
    log_z = math.log1p(math.exp(-10) + math.exp(-20))
    return np.array([-log_z, -10 - log_z, -20 - log_z])


def _wide_closed_form(inputs):
    log_z = math.log1p(math.exp(-1000) + math.exp(-2000))  # 0.0: e^-1000 is below float64's range
    return np.array([-2000 - log_z, -1000 - log_z, -log_z])


def _book_closed_form(inputs):
    x = [0.3, 2.9, 4.0]
    log_z = math.log(sum(math.exp(v) for v in x))
    return np.array([v - log_z for v in x])


def _tf_log_of_softmax(x):
    tf = lazy.tf()
    return tf.math.log(tf.nn.softmax(x))


CONCEPT = Concept(
    name="log_softmax",
    module="activations",
    family="softmax_cross_entropy",
    lesson=2,
    math="log_softmax(x)_k = (x_k - c) - log sum_i exp(x_i - c), c = max_i x_i;  dx = dy - softmax(x) sum(dy)",
    japanese="対数ソフトマックス関数",
    signature="log_softmax(x, *, axis=-1) -> same shape and dtype as x",
    differentiable=("x",),
    cases=family.cases(golden_book=_book_closed_form, golden_overflow=_overflow_closed_form,
                       golden_wide=_wide_closed_form),
    error_cases=family.error_cases("log_softmax"),
    oracles=(
        Oracle("numpy", "scipy.special.log_softmax",
               lambda x, axis=-1: lazy.scipy_special().log_softmax(x, axis=axis)),
        Oracle("torch", "F.log_softmax", lambda x, axis=-1: lazy.F().log_softmax(x, dim=axis)),
        Oracle("tf", "tf.nn.log_softmax", lambda x, axis=-1: lazy.tf().nn.log_softmax(x, axis=axis)),
    ),
    porting=(
        PortingCase(
            "log-of-softmax-underflow",
            "log(softmax(x)) underflows to -inf once a score is ~104 (float32) below the max; "
            "log_softmax stays finite in both frameworks.",
            lambda rng: {"x": np.array([[1010.0, 1000.0, 990.0, 0.0]])},
            reference=Side("torch", "F.log_softmax(x, dim=-1)", lambda x: lazy.F().log_softmax(x, dim=-1)),
            naive=Side("tf", "tf.math.log(tf.nn.softmax(x))", _tf_log_of_softmax),
            fixed=Side("tf", "tf.nn.log_softmax(x)", lambda x: lazy.tf().nn.log_softmax(x)),
            source="ゼロから作る 3.5.2; tf.nn.log_softmax and torch.nn.functional.log_softmax docs"),
    ),
)
