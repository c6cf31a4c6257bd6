"""affine: y = x @ W + b, the book's Affine layer, with W stored [in, out]."""
import math

import numpy as np

from shared import checks, layouts, lazy
from shared.spec import Case, Concept, ErrorCase, Oracle, PortingCase, Side


def validate(x, W, b):
    checks.require_floats("affine", optional=("b",), x=x, W=W, b=b)
    checks.require_min_rank("affine", "x", x, 2)
    checks.require_nonempty("affine", "x", x)
    checks.require_rank("affine", "W", W, (2,), " ([in, out], the canonical layout)")
    in_features = math.prod(checks.shape_of(x)[1:])
    if checks.shape_of(W)[0] != in_features:
        raise ValueError(f"affine: W must have {in_features} rows, one per input feature of x "
                         f"(shape {checks.shape_of(x)} flattens to {in_features}), "
                         f"got W of shape {checks.shape_of(W)}")
    if b is not None:
        checks.require_shape("affine", "b", b, checks.shape_of(W)[1:], "one bias per output of W")


def _make(batch, in_shape, out):
    def make(rng):
        return {"x": rng.standard_normal((batch, *in_shape)),
                "W": rng.standard_normal((math.prod(in_shape), out)) / math.sqrt(math.prod(in_shape)),
                "b": rng.standard_normal(out)}
    return make


def _torch_linear(x, W, b):
    # torch keeps Linear.weight as [out, in]: the canonical W transposed
    return lazy.F().linear(x.flatten(1), W.T, b)


def _tf_matmul(x, W, b):
    tf = lazy.tf()
    return tf.matmul(tf.reshape(x, (x.shape[0], -1)), W) + b


def _keras_dense(x, W, b):
    keras = lazy.keras()
    layer = keras.layers.Dense(W.shape[1], dtype=x.dtype.name)
    layer.build((None, W.shape[0]))
    layer.set_weights([W.numpy(), b.numpy()])  # Keras' kernel is [in, out]: W as it is
    return layer(lazy.tf().reshape(x, (x.shape[0], -1)))


def _torch_linear_loaded(transpose):
    def run(x, W, b):
        torch = lazy.torch()
        layer = torch.nn.Linear(W.shape[0], W.shape[1], dtype=W.dtype)
        with torch.no_grad():
            layer.weight.copy_(W.T if transpose else W)
            layer.bias.copy_(b)
        return layer(x)
    return run


def _feature_maps(rng):
    return {"x": rng.standard_normal((4, 3, 4, 4)), "W": rng.standard_normal((48, 5)) / 7,
            "b": rng.standard_normal(5)}


def _torch_flatten_linear(x, W, b):
    return lazy.F().linear(x.flatten(1), W.T, b)  # (C, H, W) order, as the book's reshape


def _keras_flatten_dense(convert):
    def run(x, W, b):
        keras = lazy.keras()
        _, c, h, w = (int(d) for d in x.shape)
        dense = keras.layers.Dense(int(W.shape[1]), dtype=x.dtype.name)
        dense.build((None, c * h * w))
        dense.set_weights([convert(W.numpy(), c, h, w), b.numpy()])
        # a Keras model sees NHWC feature maps, and Flatten reads them in (H, W, C) order
        return dense(keras.layers.Flatten()(layouts.nchw_to_nhwc(x)))
    return run


def _rows_as_they_are(W, c, h, w):
    return W


CONCEPT = Concept(
    name="affine",
    module="layers",
    family="optimizers_mlp",
    lesson=12,
    math="y = x W + b  (x flattened to [N, in], W [in, out]);  "
         "dx = dy W^T,  dW = x^T dy,  db = sum_n dy",
    japanese="Affineレイヤ（全結合層）",
    signature="affine(x, W, b=None) -> [N, out]; x [N, in] or [N, C, H, W] (flattened as the book does); "
              "b=None for a layer without bias (before batch norm, whose beta takes its place)",
    differentiable=("x", "W", "b"),
    cases=(
        Case("batch", _make(5, (4,), 3), seed=61),
        Case("image-input", _make(2, (3, 2, 2), 5), seed=62,
             note="the book's Affine flattens (C, H, W) in that order, as torch's flatten(1) does"),
        Case("single-example", _make(1, (6,), 2), seed=63),
    ),
    error_cases=(
        ErrorCase("vector-x", lambda: {"x": np.ones(4), "W": np.ones((4, 3)), "b": np.ones(3)},
                  ValueError, r"affine: x must have rank >= 2"),
        ErrorCase("W-rank-3", lambda: {"x": np.ones((2, 4)), "W": np.ones((4, 3, 1)), "b": np.ones(3)},
                  ValueError, r"affine: W must have rank 2 \(\[in, out\], the canonical layout\)"),
        ErrorCase("W-transposed", lambda: {"x": np.ones((2, 4)), "W": np.ones((3, 4)), "b": np.ones(3)},
                  ValueError, r"affine: W must have 4 rows, one per input feature of x"),
        ErrorCase("bias-shape", lambda: {"x": np.ones((2, 4)), "W": np.ones((4, 3)), "b": np.ones(4)},
                  ValueError, r"affine: b must have shape \(3,\) \(one bias per output of W\), got shape \(4,\)"),
        ErrorCase("integer-x", lambda: {"x": np.ones((2, 4), dtype=np.int64), "W": np.ones((4, 3)), "b": np.ones(3)},
                  TypeError, r"affine: x must be a floating-point array"),
    ),
    oracles=(
        Oracle("torch", "F.linear(x, W.T, b)", _torch_linear),
        Oracle("tf", "tf.matmul(x, W) + b", _tf_matmul),
        # a layer owns its kernel as a variable: only its value is compared
        Oracle("tf", "keras.layers.Dense", _keras_dense, differentiable=False),
    ),
    porting=(
        PortingCase(
            "linear-weight-layout",
            "torch Linear.weight is [out, in], Keras Dense.kernel (and our W) [in, out]. A square "
            "layer accepts the untransposed matrix without complaint and computes x W^T + b.",
            _make(4, (5,), 5),
            reference=Side("tf", "keras.layers.Dense(5) with kernel = W", _keras_dense),
            naive=Side("torch", "linear.weight.copy_(W)", _torch_linear_loaded(transpose=False)),
            fixed=Side("torch", "linear.weight.copy_(W.T)", _torch_linear_loaded(transpose=True)),
            seed=64,
            source="torch.nn.Linear docs (weight: (out_features, in_features)); keras.layers.Dense kernel"),
        PortingCase(
            "flatten-order-chw-vs-hwc",
            "Between the last conv and the first dense layer, torch (x.flatten(1)) and the book flatten NCHW "
            "maps in (C, H, W) order, Keras' Flatten on NHWC maps in (H, W, C) order. The weight matrix ports "
            "without a shape error and multiplies the wrong features. Fix: reorder its rows, "
            "layouts.dense_rows_chw_to_hwc(W, C, H, W).",
            _feature_maps,
            reference=Side("torch", "F.linear(x.flatten(1), W.T, b)", _torch_flatten_linear),
            naive=Side("tf", "Dense(kernel=W)(Flatten()(x_nhwc))", _keras_flatten_dense(_rows_as_they_are)),
            fixed=Side("tf", "Dense(kernel=layouts.dense_rows_chw_to_hwc(W, C, H, W))(Flatten()(x_nhwc))",
                       _keras_flatten_dense(layouts.dense_rows_chw_to_hwc)),
            seed=65,
            source="torch.flatten; keras.layers.Flatten (channels_last)"),
    ),
)
