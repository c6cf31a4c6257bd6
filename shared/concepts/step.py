"""step: the perceptron's activation."""
import numpy as np

from shared import lazy
from shared.concepts._elementwise import error_cases, standard_cases, validate_float
from shared.spec import Case, Concept, Oracle, Skip


def validate(x):
    validate_float("step", x)


CONCEPT = Concept(
    name="step",
    module="activations",
    family="activations",
    lesson=1,
    math="h(x) = 1 if x > 0 else 0;  h'(x) = 0 for x != 0 (undefined at 0)",
    japanese="ステップ関数",
    signature="step(x) -> same shape and dtype as x",
    differentiable=("x",),
    cases=standard_cases() + (
        Case("at-zero", lambda rng: {"x": np.array([-1.0, 0.0, 1.0])},
             golden=lambda i: np.array([0.0, 0.0, 1.0]),
             note="h(0) = 0, as the book's x > 0"),
    ),
    error_cases=error_cases("step"),
    skips=(
        Skip("at-zero", "numeric:x",
             "step jumps at 0: central differences across the jump give 1 / (2h), not a derivative"),
    ),
    oracles=(
        Oracle("torch", "torch.heaviside", lambda x: lazy.torch().heaviside(x, lazy.torch().zeros((), dtype=x.dtype)),
               differentiable=False),  # "derivative for aten::heaviside is not implemented"
        Oracle("tf", "tf.experimental.numpy.heaviside", lambda x: lazy.tf().experimental.numpy.heaviside(x, 0.0),
               differentiable=False),
    ),
)
