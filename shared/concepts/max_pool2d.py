"""max_pool2d: Max Pooling, the largest value of each window (ゼロから作る 7.3)."""
import numpy as np

from shared import layouts, lazy
from shared.concepts import _pool
from shared.spec import Case, Concept, ErrorCase, Oracle, PortingCase, Side


def _make(shape, shift=0.0):
    def make(rng):
        return {"x": shift + rng.standard_normal(shape)}
    return make


def _book_golden(inputs):
    # 2x2 windows over 0..15: each block's bottom-right value
    return np.array([[[[5.0, 7.0], [13.0, 15.0]]]])


def _torch_max_pool2d(x, kernel, *, stride=None, padding=0):
    return lazy.F().max_pool2d(x, kernel, stride=stride, padding=padding)


def _tf_max_pool2d(x, kernel, *, stride=None, padding=0):
    tf = lazy.tf()
    y = tf.nn.max_pool2d(layouts.nchw_to_nhwc(x), kernel, kernel if stride is None else stride,
                         _pool.tf_padding("max_pool2d", x, kernel, stride, padding))
    return layouts.nhwc_to_nchw(y)


def _keras_max_pooling(x, kernel, *, stride=None, padding=0):
    return _pool.keras_layer("MaxPooling2D", x, kernel, stride, padding)


def _string_padding(case):
    return isinstance(case.kwargs.get("padding", 0), str)


# ---- porting: max pooling after an explicit zero pad -------------------------------------

def _negative_maps(rng):
    # feature maps before a ReLU (BiT's stem pools the conv output directly): mostly negative
    return {"x": rng.standard_normal((2, 3, 8, 8)) - 1.0}


def _torch_pool_pad1(x):
    return lazy.F().max_pool2d(x, 3, stride=2, padding=1)


def _tf_padded_pool(value):
    def run(x):
        tf = lazy.tf()
        x = tf.pad(layouts.nchw_to_nhwc(x), [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=value)
        return layouts.nhwc_to_nchw(tf.nn.max_pool2d(x, 3, 2, "VALID"))
    return run


CONCEPT = Concept(
    name="max_pool2d",
    module="pooling",
    math="y[n, c, i, j] = max_{p, q} x_pad[n, c, i*S + p, j*S + q], padding -inf;  "
         "dx: dy goes to the argmax of each window (summed where windows overlap)",
    japanese="Maxプーリング（最大値プーリング）",
    signature="max_pool2d(x, kernel, *, stride=None, padding=0) -> [N, C, OH, OW]; stride defaults to the "
              "kernel; padding as conv2d's (pads -inf), smaller than the kernel",
    differentiable=("x",),
    cases=(
        Case("book-2x2", lambda rng: {"x": np.arange(16.0).reshape(1, 1, 4, 4)}, {"kernel": 2}, seed=461,
             golden=_book_golden),
        Case("resnet-stem-3x3-stride2-pad1", _make((2, 3, 8, 8), shift=-1.0), {"kernel": 3, "stride": 2, "padding": 1},
             seed=462, note="mostly negative inputs: a zero pad would win the border windows"),
        Case("overlap-3x2-stride1", _make((2, 2, 5, 6)), {"kernel": (3, 2), "stride": 1}, seed=463,
             note="overlapping windows: a pixel that wins several gets their summed gradient"),
        Case("same-stride2-odd", _make((1, 3, 7, 7), shift=-1.0), {"kernel": 2, "padding": "same"}, seed=464,
             note="TF 'same' pads (0, 1) here"),
        Case("explicit-asymmetric", _make((1, 2, 6, 5)), {"kernel": 3, "stride": 2, "padding": (0, 1, 1, 0)},
             seed=465),
    ),
    error_cases=(
        ErrorCase("padding-as-large-as-kernel", lambda: {"x": np.ones((1, 1, 4, 4))}, ValueError,
                  r"max_pool2d: padding \(2, 2, 2, 2\) must be smaller than the kernel \(2, 2\) on every side",
                  {"kernel": 2, "padding": 2}),
        ErrorCase("rank-2", lambda: {"x": np.ones((4, 4))}, ValueError, r"max_pool2d: x must have rank 4",
                  {"kernel": 2}),
        ErrorCase("kernel-zero", lambda: {"x": np.ones((1, 1, 4, 4))}, ValueError,
                  r"max_pool2d: kernel must be an int >= 1 or a pair of them, got 0", {"kernel": 0}),
    ),
    oracles=(
        Oracle("torch", "F.max_pool2d", _torch_max_pool2d, applies=_pool.symmetric),
        Oracle("tf", "tf.nn.max_pool2d (NHWC)", _tf_max_pool2d),
        Oracle("tf", "keras.layers.MaxPooling2D", _keras_max_pooling, applies=_string_padding),
    ),
    porting=(
        PortingCase(
            "max-pool-zero-padding",
            "Max pooling pads with -inf (torch MaxPool2d(padding=1), TF 'SAME'): padding never wins. A port "
            "that pads explicitly first, as BiT's stem does (tf.pad, then a VALID pool), pads with ZEROS: "
            "where the border values are negative (no ReLU before the pool) the zero wins. Fix: "
            "tf.pad(..., constant_values=-inf), or pool with padding='SAME' where that split matches.",
            _negative_maps,
            reference=Side("torch", "F.max_pool2d(x, 3, stride=2, padding=1)", _torch_pool_pad1),
            naive=Side("tf", "tf.nn.max_pool2d(tf.pad(x, [[0,0],[1,1],[1,1],[0,0]]), 3, 2, 'VALID')",
                       _tf_padded_pool(0.0)),
            fixed=Side("tf", "tf.nn.max_pool2d(tf.pad(x, ..., constant_values=-inf), 3, 2, 'VALID')",
                       _tf_padded_pool(-np.inf)),
            seed=466,
            source="big_transfer bit_pytorch/models.py (StdConv stem: 'subtly not the same' comment); "
                   "torch.nn.MaxPool2d docs (implicit -inf padding)"),
    ),
)
