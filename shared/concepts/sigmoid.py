"""sigmoid: the smooth step."""
from dataclasses import replace

import numpy as np

from shared import lazy
from shared.concepts._elementwise import error_cases, standard_cases, validate_float
from shared.spec import Case, Concept, Oracle


def validate(x):
    validate_float("sigmoid", x)


def _closed_form(inputs):
    x = inputs["x"]
    with np.errstate(over="ignore"):  # exp(1000) = inf gives 1 / inf = 0, the right limit
        return 1 / (1 + np.exp(-x))


def _closed_form_grad(inputs, v):
    # sigma'(x) = e^-x / (1 + e^-x)^2, an even function: evaluated at |x| it cannot overflow
    e = np.exp(-np.abs(inputs["x"]))
    return {"x": v * e / (1 + e) ** 2}


def _cases():
    return tuple(
        replace(c, golden=_closed_form, golden_grad=_closed_form_grad) for c in standard_cases()) + (
        Case("saturated", lambda rng: {"x": np.array([-1000.0, -40.0, 40.0, 1000.0])},
             golden=_closed_form, golden_grad=_closed_form_grad,
             note="1 / (1 + exp(-x)) as written overflows at x = -1000 and its autodiff gradient is nan"),
        Case("zero", lambda rng: {"x": np.array([-1.0, 0.0, 0.0, 1.0])},
             golden=lambda inputs: np.array([1 / (1 + np.e), 0.5, 0.5, np.e / (1 + np.e)]),
             golden_grad=lambda inputs, v: {"x": v * np.array([np.e / (1 + np.e) ** 2, 0.25, 0.25,
                                                                np.e / (1 + np.e) ** 2])},
             note="s(0) = 1/2, s'(0) = 1/4: an overflow-safe form through |x| gets autodiff's derivative 0 of "
                  "|x| at 0"),
    )


CONCEPT = Concept(
    name="sigmoid",
    module="activations",
    family="activations",
    lesson=2,
    math="s(x) = 1 / (1 + exp(-x));  s'(x) = s(x) (1 - s(x))",
    japanese="シグモイド関数",
    signature="sigmoid(x) -> same shape and dtype as x",
    differentiable=("x",),
    cases=_cases(),
    error_cases=error_cases("sigmoid"),
    oracles=(
        Oracle("numpy", "scipy.special.expit", lambda x: lazy.scipy_special().expit(x)),
        Oracle("torch", "torch.sigmoid", lambda x: lazy.torch().sigmoid(x)),
        Oracle("tf", "tf.math.sigmoid", lambda x: lazy.tf().math.sigmoid(x)),
        Oracle("tf", "keras.activations.sigmoid", lambda x: lazy.keras().activations.sigmoid(x)),
    ),
)
