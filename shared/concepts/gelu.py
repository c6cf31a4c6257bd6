"""gelu: x * Phi(x), exact (erf) or with the tanh approximation of Hendrycks & Gimpel."""
import math
from dataclasses import replace

import numpy as np

from shared import checks, lazy
from shared.concepts._elementwise import error_cases, standard_cases, validate_float
from shared.spec import Concept, ErrorCase, Oracle, Override, PortingCase, Side, Tolerance

# tf.nn.gelu builds its constants with math_ops.cast(0.7071067811865476, dtype): the Python
# float becomes a float32 tensor first, so 1/sqrt(2) and 0.044715 carry float32 rounding
# (delta <= 2^-24 relative) into float64. The value error 0.5 x erfc'(z) z delta peaks at
# x^2 = 2 at ~0.3 delta = 2e-9; the VJP's, with |v| <= 3, measured 1.3e-8.
TF_F32_CONSTANTS = Tolerance(
    3e-8, 1e-12,
    "tf.nn.gelu rounds 1/sqrt(2) and 0.044715 through float32 even for float64 input: "
    "absolute error ~0.3 * 2^-24 * |v| (porting case tf-gelu-float64-constants)")
# At x = -5 the tanh form's gradient 0.5(1 + t) + 0.5 x (1 - t^2) c'(x) needs 1 - t^2 ~ 2e-7
# from t ~ -1 rounded to float32: absolute error <= 2 eps32 |0.5 x c'(x)| |v| = 2.6e-6 for
# this case's cotangent v = 1.28, more than the true gradient (-2.0e-6). Every framework's
# tanh backward computes 1 - y^2, so this is float32's limit, not an implementation's.
TANH_FORM_F32_CANCELLATION = Tolerance(
    3e-6, 1e-5,
    "float32 cancellation in 1 - tanh^2 at x = -5: bound 2 eps32 |x c'(x)/2| |v| = 2.6e-6")

APPROXIMATIONS = ("none", "tanh")


def validate(x, *, approximate):
    validate_float("gelu", x)
    checks.require_choice("gelu", "approximate", approximate, APPROXIMATIONS)


def _exact_closed_form(inputs):
    # math.erf element by element: independent of the vectorised erf under test
    phi = np.vectorize(lambda v: 0.5 * (1 + math.erf(v / math.sqrt(2))))
    return inputs["x"] * phi(inputs["x"])


def _cases():
    exact = tuple(replace(c, golden=_exact_closed_form) for c in standard_cases())
    return exact + tuple(replace(c, name=f"tanh-{c.name}") for c in standard_cases({"approximate": "tanh"}))


def _make(rng):
    return {"x": np.linspace(-4, 4, 17)}


CONCEPT = Concept(
    name="gelu",
    module="activations",
    family="activations",
    lesson=6,
    math="gelu(x) = x Phi(x) = x/2 (1 + erf(x / sqrt 2));  "
         "tanh form: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))",
    japanese="GELU関数 (ガウス誤差線形ユニット)",
    signature='gelu(x, *, approximate="none" | "tanh") -> same shape and dtype as x',
    differentiable=("x",),
    cases=_cases(),
    error_cases=error_cases("gelu") + (
        ErrorCase("unknown-approximation", lambda: {"x": np.array([1.0])}, ValueError,
                  "gelu: approximate must be one of", {"approximate": "fast"}),
    ),
    oracles=(
        Oracle("torch", "F.gelu", lambda x, approximate="none": lazy.F().gelu(x, approximate=approximate)),
        Oracle("tf", "tf.nn.gelu",
               lambda x, approximate="none": lazy.tf().nn.gelu(x, approximate=approximate == "tanh")),
        Oracle("tf", "keras.activations.gelu",
               lambda x, approximate="none": lazy.keras().activations.gelu(x, approximate=approximate == "tanh")),
    ),
    porting=(
        PortingCase(
            "tf-gelu-float64-constants",
            "tf.nn.gelu in float64 carries float32-rounded constants (1/sqrt(2), 0.044715): "
            "errors up to ~1e-8 absolute, 4e-7 relative at x = -5; write the formula with "
            "Python floats, which TF multiplies in float64.",
            _make,
            reference=Side("torch", "F.gelu(x)", lambda x: lazy.F().gelu(x)),
            naive=Side("tf", "tf.nn.gelu(x)", lambda x: lazy.tf().nn.gelu(x)),
            fixed=Side("tf", "0.5 * x * (1 + tf.math.erf(x / math.sqrt(2)))",
                       lambda x: 0.5 * x * (1 + lazy.tf().math.erf(x / math.sqrt(2)))),
            check="grad:x",
            dtype="float64",
            source="tensorflow/python/ops/nn_ops.py gelu: math_ops.cast(0.7071067811865476, dtype)"),
        PortingCase(
            "gelu-tanh-approximation",
            "torch F.gelu and tf.nn.gelu default to the exact erf form; JAX's jax.nn.gelu and "
            "Hugging Face 'gelu_new' use the tanh approximation: port the flag, not the name.",
            _make,
            reference=Side("torch", 'F.gelu(x)  # approximate="none"', lambda x: lazy.F().gelu(x)),
            naive=Side("tf", "tf.nn.gelu(x, approximate=True)",
                       lambda x: lazy.tf().nn.gelu(x, approximate=True)),
            fixed=Side("tf", "tf.nn.gelu(x)  # approximate=False",
                       lambda x: lazy.tf().nn.gelu(x)),
            source="torch.nn.GELU and tf.nn.gelu docs; jax.nn.gelu(approximate=True)"),
    ),
    overrides=(
        Override("builtin", TF_F32_CONSTANTS, dtype="float64", backend="tf"),
        Override("grad", TANH_FORM_F32_CANCELLATION, case="tanh-range", dtype="float32"),
        Override("builtin", TANH_FORM_F32_CANCELLATION, case="tanh-range", dtype="float32"),
    ),
)
