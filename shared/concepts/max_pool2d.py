"""max_pool2d: Max Pooling, the largest value of each window (ゼロから作る 7.3)."""
import numpy as np

from shared import layouts, lazy
from shared.concepts import _pool
from shared.spec import Case, Concept, ErrorCase, Oracle, PortingCase, Side, Skip


def _make(shape, shift=0.0):
    def make(rng):
        return {"x": shift + rng.standard_normal(shape)}
    return make


def _book_golden(inputs):
    # 2x2 windows over 0..15: each block's bottom-right value
    return np.array([[[[5.0, 7.0], [13.0, 15.0]]]])


# ---- ties: several equal maxima in one window ----------------------------------------------

TIES = np.array([[1.0, 3.0, 3.0, 0.0, 2.0],
                 [3.0, 2.0, 1.0, 3.0, 2.0],
                 [0.0, 0.0, 5.0, 5.0, 2.0],
                 [5.0, 0.0, 5.0, 1.0, 2.0],
                 [2.0, 2.0, 2.0, 2.0, 2.0]])


def _ties(rng):
    # two channels: the pattern and its mirror image, so ties sit on both sides of windows
    return {"x": np.stack([TIES, TIES[:, ::-1]])[None]}


def _loop_windows(x, kernel, stride):
    """((n, c, i, j), [(row, col) of the window in row-major order]) for every output, by loops."""
    n, c, h, w = x.shape
    for ni in range(n):
        for ci in range(c):
            for i in range((h - kernel) // stride + 1):
                for j in range((w - kernel) // stride + 1):
                    yield (ni, ci, i, j), [(i * stride + p, j * stride + q) for p in range(kernel)
                                           for q in range(kernel)]


def _ties_golden(kernel, stride):
    def golden(inputs):
        x = inputs["x"]
        oh, ow = (x.shape[2] - kernel) // stride + 1, (x.shape[3] - kernel) // stride + 1
        y = np.zeros((*x.shape[:2], oh, ow))
        for (n, c, i, j), cells in _loop_windows(x, kernel, stride):
            y[n, c, i, j] = max(x[n, c, r, q] for r, q in cells)
        return y
    return golden


def _ties_golden_grad(kernel, stride):
    """The whole of dy to the FIRST maximum of each window in row-major order (the book's
    argmax mask, torch's MaxPool2d), summed where windows overlap."""
    def golden_grad(inputs, v):
        x = inputs["x"]
        dx = np.zeros_like(x)
        for (n, c, i, j), cells in _loop_windows(x, kernel, stride):
            values = [x[n, c, r, q] for r, q in cells]
            r, q = cells[values.index(max(values))]
            dx[n, c, r, q] += v[n, c, i, j]
        return {"x": dx}
    return golden_grad


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
    family="convolution",
    lesson=4,
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
        Case("tied-maxima-2x2", _ties, {"kernel": 2}, golden=_ties_golden(2, 2), golden_grad=_ties_golden_grad(2, 2),
             note="exact small integers, two to four equal maxima per window: the first one takes the gradient"),
        Case("tied-maxima-3x3-overlap", _ties, {"kernel": 3, "stride": 1}, golden=_ties_golden(3, 1),
             golden_grad=_ties_golden_grad(3, 1),
             note="overlapping windows share tied maxima: each window's first maximum gets its dy, summed"),
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
    skips=tuple(
        Skip(case, "numeric:x", "tied maxima are a kink of max: a step up moves the output, a step down does "
             "not, so central differences measure half a gradient there; golden_grad checks the convention")
        for case in ("tied-maxima-2x2", "tied-maxima-3x3-overlap")),
)
