"""tanh: the zero-centred sigmoid, tanh(x) = 2 s(2x) - 1."""
from dataclasses import replace

import numpy as np

from shared import lazy
from shared.concepts._elementwise import error_cases, standard_cases, validate_float
from shared.spec import Concept, Oracle


def validate(x):
    validate_float("tanh", x)


def _closed_form_grad(inputs, v):
    return {"x": v / np.cosh(inputs["x"]) ** 2}  # d tanh / dx = sech^2 x


CONCEPT = Concept(
    name="tanh",
    module="activations",
    family="activations",
    lesson=3,
    math="tanh(x) = (e^x - e^-x) / (e^x + e^-x);  tanh'(x) = 1 - tanh(x)^2",
    japanese="双曲線正接関数 (tanh)",
    signature="tanh(x) -> same shape and dtype as x",
    differentiable=("x",),
    cases=tuple(replace(c, golden_grad=_closed_form_grad) for c in standard_cases()),
    error_cases=error_cases("tanh"),
    oracles=(
        Oracle("torch", "torch.tanh", lambda x: lazy.torch().tanh(x)),
        Oracle("tf", "tf.math.tanh", lambda x: lazy.tf().math.tanh(x)),
    ),
)
