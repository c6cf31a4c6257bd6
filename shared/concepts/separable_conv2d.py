"""separable_conv2d: MobileNet's depthwise-separable convolution, a depthwise conv (one
k x k filter per channel) followed by a pointwise 1x1 conv that mixes the channels."""
import numpy as np

from shared import layouts, lazy
from shared.concepts import _conv
from shared.spec import Case, Concept, ErrorCase, Oracle


def _make(x_shape, multiplier, out, k):
    def make(rng):
        c = x_shape[1]
        return {"x": rng.standard_normal(x_shape),
                "w_depth": rng.standard_normal((c * multiplier, 1, k, k)) / k,
                "w_point": rng.standard_normal((out, c * multiplier, 1, 1)) / np.sqrt(c * multiplier),
                "b": rng.standard_normal(out)}
    return make


def _torch_two_convs(x, w_depth, w_point, b, *, stride=1, padding=0, dilation=1):
    F = lazy.F()
    pads = _conv.validate_conv2d("separable_conv2d", x, w_depth, None, stride=stride, padding=padding,
                                 dilation=dilation, groups=int(x.shape[1])).pads
    h = F.conv2d(F.pad(x, _conv.torch_pads(pads)), w_depth, stride=stride, dilation=dilation, groups=x.shape[1])
    return F.conv2d(h, w_point, b)


def _tf_separable(x, w_depth, w_point, b, *, stride=1, padding=0, dilation=1):
    tf = lazy.tf()
    channels = int(x.shape[1])
    s = _conv.pair("separable_conv2d", "stride", stride)
    y = tf.nn.separable_conv2d(layouts.nchw_to_nhwc(x), layouts.depthwise_oihw_to_hwcm(w_depth, channels),
                               layouts.oihw_to_hwio(w_point), [1, *s, 1], padding.upper(),
                               dilations=_conv.pair("separable_conv2d", "dilation", dilation))
    return layouts.nhwc_to_nchw(y + b)


def _keras_separable(x, w_depth, w_point, b, *, stride=1, padding=0, dilation=1):
    keras = lazy.keras()
    channels = int(x.shape[1])
    layer = keras.layers.SeparableConv2D(int(w_point.shape[0]), tuple(w_depth.shape[2:]), strides=stride,
                                         padding=padding, depth_multiplier=int(w_depth.shape[0]) // channels,
                                         dilation_rate=dilation, dtype=x.dtype.name)
    layer.build((None, None, None, channels))
    # one bias, after the pointwise conv; nothing in between
    layer.set_weights([layouts.depthwise_oihw_to_hwcm(w_depth.numpy(), channels),
                       layouts.oihw_to_hwio(w_point.numpy()), b.numpy()])
    return layouts.nhwc_to_nchw(layer(layouts.nchw_to_nhwc(x)))


def _string_padding(case):
    return isinstance(case.kwargs.get("padding", 0), str)


CONCEPT = Concept(
    name="separable_conv2d",
    module="conv",
    family="convolution",
    lesson=7,
    math="h = conv2d(x, W_depth, groups=C) [C*M channels];  y = conv2d(h, W_point) + b (1x1);  "
         "FLOPs vs a full k x k conv to O channels: M/O + M/k^2",
    japanese="深さ方向分離可能畳み込み（Depthwise Separable Convolution、MobileNet）",
    signature="separable_conv2d(x, w_depth, w_point, b=None, *, stride=1, padding=0, dilation=1) -> [N, O, OH, OW]; "
              "w_depth [C*M, 1, kh, kw], w_point [O, C*M, 1, 1]; like keras SeparableConv2D: one bias, "
              "no activation between the two convs",
    differentiable=("x", "w_depth", "w_point", "b"),
    cases=(
        Case("3x3-same-m1", _make((2, 3, 6, 6), 1, 4, 3), {"padding": "same"}, seed=451),
        Case("stride2-valid-m2", _make((1, 2, 7, 7), 2, 5, 3), {"stride": 2, "padding": "valid"}, seed=452),
        Case("pad1-dilation2", _make((1, 3, 7, 7), 1, 2, 3), {"padding": 2, "dilation": 2}, seed=453),
    ),
    error_cases=(
        ErrorCase("w-point-shape", lambda: {"x": np.ones((1, 3, 5, 5)), "w_depth": np.ones((3, 1, 3, 3)),
                                            "w_point": np.ones((4, 3, 3, 3)), "b": np.ones(4)},
                  ValueError, r"separable_conv2d: w_point must be \[O, 3, 1, 1\], a 1x1 conv"),
        ErrorCase("w-depth-shape", lambda: {"x": np.ones((1, 3, 5, 5)), "w_depth": np.ones((3, 3, 3, 3)),
                                            "w_point": np.ones((4, 3, 1, 1)), "b": np.ones(4)},
                  ValueError, r"separable_conv2d: w_depth must be \[C\*M, 1, kh, kw\] for the 3 channels of x"),
    ),
    oracles=(
        Oracle("torch", "F.conv2d(groups=C) then a 1x1 F.conv2d", _torch_two_convs),
        Oracle("tf", "tf.nn.separable_conv2d", _tf_separable, applies=_string_padding),
        Oracle("tf", "keras.layers.SeparableConv2D", _keras_separable, applies=_string_padding,
               differentiable=False),
    ),
)
