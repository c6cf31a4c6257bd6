"""relu: max(x, 0), and the question of its gradient at exactly 0."""
import numpy as np

from shared import lazy
from shared.concepts._elementwise import error_cases, standard_cases, validate_float
from shared.spec import Case, Concept, Hint, Oracle, PortingCase, Side, Skip


def validate(x):
    validate_float("relu", x)


def _zeros_input(rng):
    return {"x": np.array([-2.0, -0.0, 0.0, 0.0, 1.5, 3.0])}


def _tf_maximum(x):
    return lazy.tf().maximum(x, lazy.tf().zeros((), dtype=x.dtype))


CONCEPT = Concept(
    name="relu",
    module="activations",
    family="activations",
    lesson=4,
    hints=(Hint("grad", "the mask is on the wrong side: the gradient passes where x > 0 (strictly) and is 0 elsewhere"),),
    math="relu(x) = max(x, 0);  relu'(x) = 1 if x > 0 else 0 (0 at x = 0 by convention)",
    japanese="ReLU関数 (正規化線形関数)",
    signature="relu(x) -> same shape and dtype as x",
    differentiable=("x",),
    cases=standard_cases() + (
        Case("at-zero", _zeros_input,
             golden_grad=lambda i, v: {"x": v * (i["x"] > 0)},
             note="the book's backward mask x <= 0 gives gradient 0 at x = 0"),
    ),
    error_cases=error_cases("relu"),
    oracles=(
        Oracle("torch", "torch.relu", lambda x: lazy.torch().relu(x)),
        Oracle("tf", "tf.nn.relu", lambda x: lazy.tf().nn.relu(x)),
        Oracle("tf", "keras.activations.relu", lambda x: lazy.keras().activations.relu(x)),
    ),
    porting=(
        PortingCase(
            "relu-as-tf-maximum",
            "relu written as tf.maximum(x, 0) gets gradient 1 at x = 0 (TF's Maximum "
            "gradient sends ties to the first argument); tf.nn.relu and torch.relu give 0.",
            _zeros_input,
            reference=Side("torch", "torch.relu(x)", lambda x: lazy.torch().relu(x)),
            naive=Side("tf", "tf.maximum(x, 0.)", _tf_maximum),
            fixed=Side("tf", "tf.nn.relu(x)", lambda x: lazy.tf().nn.relu(x)),
            check="grad:x",
            source="tensorflow/python/ops/math_grad.py _MaximumGrad (greater_equal mask)"),
        PortingCase(
            "relu-as-torch-clamp",
            "relu written as x.clamp(min=0) gets gradient 1 at x = 0 (clamp passes the "
            "gradient on its closed interval); torch.maximum(x, 0) splits the tie, 0.5.",
            _zeros_input,
            reference=Side("tf", "tf.nn.relu(x)", lambda x: lazy.tf().nn.relu(x)),
            naive=Side("torch", "x.clamp(min=0)", lambda x: x.clamp(min=0)),
            fixed=Side("torch", "torch.relu(x)", lambda x: lazy.torch().relu(x)),
            check="grad:x",
            source="torch/csrc/autograd/FunctionsManual.cpp clamp_backward"),
    ),
    skips=(
        Skip("at-zero", "numeric:x",
             "relu has a kink at 0: central differences average the one-sided slopes (0.5), "
             "which is no gradient convention; golden_grad checks the convention instead"),
    ),
)
