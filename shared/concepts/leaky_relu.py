"""leaky_relu: relu with a small slope for x < 0, so negative units still learn."""
import numbers

import numpy as np

from shared import lazy
from shared.concepts._elementwise import error_cases, standard_cases, validate_float
from shared.spec import Case, Concept, Oracle, Override, PortingCase, Side, Skip, Tolerance

F32_ROUNDED_ALPHA = Tolerance(
    1e-14, 6e-8,
    "TF's LeakyRelu op stores alpha as a float32 attribute: in float64 the slope itself is "
    "off by up to 2^-24 = 6e-8 relative (porting case tf-leaky-relu-float64-alpha)")


def validate(x, *, negative_slope):
    validate_float("leaky_relu", x)
    if not isinstance(negative_slope, numbers.Real) or isinstance(negative_slope, bool):
        raise TypeError(f"leaky_relu: negative_slope must be a real number, got {negative_slope!r}")


def _make(rng):
    return {"x": 3 * rng.standard_normal(12)}


def _keras_layer(**kw):
    return lambda x: lazy.keras().layers.LeakyReLU(**kw)(x)


CONCEPT = Concept(
    name="leaky_relu",
    module="activations",
    family="activations",
    lesson=5,
    math="f(x) = x if x > 0 else a x;  f'(x) = 1 if x > 0 else a  (a = negative_slope)",
    japanese="Leaky ReLU関数",
    signature="leaky_relu(x, *, negative_slope=0.01) -> same shape and dtype as x",
    differentiable=("x",),
    cases=standard_cases() + (
        Case("slope-0.2", lambda rng: {"x": 2 * rng.standard_normal((4, 5))}, {"negative_slope": 0.2}, seed=4),
        # the kink itself, in exact small numbers: x = 0 (and -0) takes the slope a, as
        # F.leaky_relu's and tf.nn.leaky_relu's gradients do (x > 0 is strict)
        Case("at-zero", lambda rng: {"x": np.array([-2.0, -0.0, 0.0, 0.0, 1.5, 3.0])}, {"negative_slope": 0.25},
             golden=lambda i: np.where(i["x"] > 0, i["x"], 0.25 * i["x"]),
             golden_grad=lambda i, v: {"x": np.where(i["x"] > 0, v, 0.25 * v)},
             note="the gradient at exactly 0 is the negative slope: x > 0 selects 1"),
    ),
    error_cases=error_cases("leaky_relu"),
    oracles=(
        Oracle("torch", "F.leaky_relu",
               lambda x, negative_slope=0.01: lazy.F().leaky_relu(x, negative_slope)),
        Oracle("tf", "tf.nn.leaky_relu",
               lambda x, negative_slope=0.01: lazy.tf().nn.leaky_relu(x, alpha=negative_slope)),
    ),
    porting=(
        PortingCase(
            "tf-leaky-relu-float64-alpha",
            "tf.nn.leaky_relu rounds alpha to float32 (an op attribute), so float64 results "
            "are off by up to 6e-8 relative; write tf.where(x > 0, x, alpha * x).",
            _make,
            reference=Side("torch", "F.leaky_relu(x, 0.01)", lambda x: lazy.F().leaky_relu(x, 0.01)),
            naive=Side("tf", "tf.nn.leaky_relu(x, alpha=0.01)",
                       lambda x: lazy.tf().nn.leaky_relu(x, alpha=0.01)),
            fixed=Side("tf", "tf.where(x > 0, x, 0.01 * x)",
                       lambda x: lazy.tf().where(x > 0, x, 0.01 * x)),
            dtype="float64",
            source="tf.raw_ops.LeakyRelu: alpha is an optional `float` attribute"),
        PortingCase(
            "leaky-relu-keras-default-slope",
            "Keras LeakyReLU defaults to negative_slope=0.3, torch nn.LeakyReLU to 0.01.",
            _make,
            reference=Side("torch", "F.leaky_relu(x)", lambda x: lazy.F().leaky_relu(x)),
            naive=Side("tf", "keras.layers.LeakyReLU()(x)", _keras_layer()),
            fixed=Side("tf", "keras.layers.LeakyReLU(negative_slope=0.01)(x)",
                       _keras_layer(negative_slope=0.01)),
            source="keras.layers.LeakyReLU and torch.nn.LeakyReLU signatures"),
        PortingCase(
            "leaky-relu-tf-nn-default-alpha",
            "tf.nn.leaky_relu defaults to alpha=0.2: a third default beside torch's 0.01 and Keras' 0.3.",
            _make,
            reference=Side("torch", "F.leaky_relu(x)", lambda x: lazy.F().leaky_relu(x)),
            naive=Side("tf", "tf.nn.leaky_relu(x)", lambda x: lazy.tf().nn.leaky_relu(x)),
            fixed=Side("tf", "tf.nn.leaky_relu(x, alpha=0.01)",
                       lambda x: lazy.tf().nn.leaky_relu(x, alpha=0.01)),
            source="tf.nn.leaky_relu signature"),
    ),
    overrides=(
        Override("builtin", F32_ROUNDED_ALPHA, dtype="float64", backend="tf"),
    ),
    skips=(
        Skip("at-zero", "numeric:x",
             "leaky_relu has a kink at 0: central differences average the two slopes ((1 + a) / 2), "
             "which is no gradient convention; golden_grad checks the convention instead"),
    ),
)
