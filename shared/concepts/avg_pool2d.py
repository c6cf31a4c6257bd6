"""avg_pool2d: Average Pooling, the mean of each window; with padding, the mean either
counts the padded zeros (torch's default) or only the real pixels (Keras/TF)."""
import numpy as np

from shared import lazy
from shared.concepts import _pool
from shared.spec import Case, Concept, ErrorCase, Oracle, PortingCase, Side


def _make(shape):
    def make(rng):
        return {"x": rng.standard_normal(shape)}
    return make


def _book_golden(inputs):
    # 2x2 windows over 0..15: block means
    return np.array([[[[2.5, 4.5], [10.5, 12.5]]]])


def _torch_avg_pool2d(x, kernel, *, stride=None, padding=0, count_include_pad=True):
    return lazy.F().avg_pool2d(x, kernel, stride=stride, padding=padding, count_include_pad=count_include_pad)


def _tf_avg_pool2d(x, kernel, *, stride=None, padding=0, count_include_pad=True):
    tf = lazy.tf()
    from shared import layouts
    y = tf.nn.avg_pool2d(layouts.nchw_to_nhwc(x), kernel, kernel if stride is None else stride, padding.upper())
    return layouts.nhwc_to_nchw(y)


def _keras_average_pooling(x, kernel, *, stride=None, padding=0, count_include_pad=True):
    return _pool.keras_layer("AveragePooling2D", x, kernel, stride, padding)


def _tf_semantics(case):
    # TF and Keras take 'valid' or 'same', and 'same' averages over the real pixels only
    padding = case.kwargs.get("padding", 0)
    return padding == "valid" or (padding == "same" and not case.kwargs.get("count_include_pad", True))


# ---- porting: count_include_pad ------------------------------------------------------------

def _keras_same_3x3(x):
    return _pool.keras_layer("AveragePooling2D", x, 3, 1, "same")


def _torch_pad1(count_include_pad):
    def run(x):
        return lazy.F().avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=count_include_pad)
    return run


CONCEPT = Concept(
    name="avg_pool2d",
    module="pooling",
    family="convolution",
    lesson=5,
    math="y[n, c, i, j] = sum_{p, q} x_pad[n, c, i*S + p, j*S + q] / count, count = kh*kw "
         "(count_include_pad) or the real pixels in the window;  dx: dy / count to every pixel of the window",
    japanese="Averageプーリング（平均値プーリング）",
    signature="avg_pool2d(x, kernel, *, stride=None, padding=0, count_include_pad=True) -> [N, C, OH, OW]; "
              "count_include_pad=True is torch's default, False is what Keras/TF 'same' computes",
    differentiable=("x",),
    cases=(
        Case("book-2x2", lambda rng: {"x": np.arange(16.0).reshape(1, 1, 4, 4)}, {"kernel": 2}, seed=471,
             golden=_book_golden),
        Case("3x3-pad1-include", _make((2, 2, 5, 5)), {"kernel": 3, "stride": 1, "padding": 1}, seed=472),
        Case("3x3-pad1-exclude", _make((2, 2, 5, 5)), {"kernel": 3, "stride": 1, "padding": 1,
                                                        "count_include_pad": False}, seed=473),
        Case("same-stride2-exclude", _make((1, 3, 7, 6)), {"kernel": 3, "stride": 2, "padding": "same",
                                                            "count_include_pad": False}, seed=474,
             note="what keras AveragePooling2D(3, 2, padding='same') computes"),
        Case("valid-2x3", _make((2, 2, 6, 7)), {"kernel": (2, 3), "padding": "valid"}, seed=475),
    ),
    error_cases=(
        ErrorCase("padding-as-large-as-kernel", lambda: {"x": np.ones((1, 1, 4, 4))}, ValueError,
                  r"avg_pool2d: padding \(3, 3, 3, 3\) must be smaller than the kernel \(3, 3\) on every side",
                  {"kernel": 3, "padding": 3}),
        ErrorCase("count-include-pad", lambda: {"x": np.ones((1, 1, 4, 4))}, TypeError,
                  r"avg_pool2d: count_include_pad must be True or False", {"kernel": 2, "count_include_pad": "yes"}),
    ),
    oracles=(
        Oracle("torch", "F.avg_pool2d", _torch_avg_pool2d, applies=_pool.symmetric),
        Oracle("tf", "tf.nn.avg_pool2d (NHWC)", _tf_avg_pool2d, applies=_tf_semantics),
        Oracle("tf", "keras.layers.AveragePooling2D", _keras_average_pooling, applies=_tf_semantics),
    ),
    porting=(
        PortingCase(
            "avg-pool-count-include-pad",
            "torch AvgPool2d(3, 1, padding=1) counts the padded zeros (count_include_pad=True): border means "
            "are divided by 9 even where only 4 or 6 pixels are real. Keras AveragePooling2D(padding='same') "
            "and tf.nn.avg_pool2d divide by the real pixels. Fix: count_include_pad=False.",
            _make((2, 3, 6, 6)),
            reference=Side("tf", "keras.layers.AveragePooling2D(3, strides=1, padding='same')", _keras_same_3x3),
            naive=Side("torch", "F.avg_pool2d(x, 3, stride=1, padding=1)", _torch_pad1(True)),
            fixed=Side("torch", "F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)", _torch_pad1(False)),
            seed=476,
            source="torch.nn.AvgPool2d docs (count_include_pad=True); tf.nn.avg_pool2d docs"),
    ),
)
