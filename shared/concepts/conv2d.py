"""conv2d: the convolution layer's forward (ゼロから作る 7.2; im2col in 7.4), with
stride, padding (including TensorFlow's asymmetric 'same'), dilation and groups."""
import numpy as np

from shared import layouts, lazy
from shared.concepts import _conv
from shared.spec import Case, Concept, ErrorCase, Oracle, PortingCase, Side


def _make(x_shape, w_shape):
    def make(rng):
        fan_in = w_shape[1] * w_shape[2] * w_shape[3]
        return {"x": rng.standard_normal(x_shape),
                "w": rng.standard_normal(w_shape) / np.sqrt(fan_in),
                "b": rng.standard_normal(w_shape[0])}
    return make


def _box_filter(rng):
    return {"x": np.arange(9.0).reshape(1, 1, 3, 3), "w": np.ones((2, 1, 2, 2)), "b": np.array([0.0, 10.0])}


def _box_filter_golden(inputs):
    # sums of the four 2x2 blocks of 0..8 (0+1+3+4 = 8, ...), plus each filter's bias
    sums = np.array([[8.0, 12.0], [20.0, 24.0]])
    return np.stack([sums, sums + 10])[None]


def _geometry(x, w, stride=1, padding=0, dilation=1, groups=1):
    return _conv.validate_conv2d("conv2d", x, w, None, stride=stride, padding=padding, dilation=dilation,
                                 groups=groups)


def _torch_conv2d(x, w, b, *, stride=1, padding=0, dilation=1, groups=1):
    F = lazy.F()
    top, bottom, left, right = _geometry(x, w, stride, padding, dilation, groups).pads
    if (top, left) == (bottom, right):
        return F.conv2d(x, w, b, stride=stride, padding=(top, left), dilation=dilation, groups=groups)
    # torch pads symmetrically only (and refuses padding='same' with stride > 1): pad first
    x = F.pad(x, _conv.torch_pads((top, bottom, left, right)))
    return F.conv2d(x, w, b, stride=stride, dilation=dilation, groups=groups)


def _tf_padding(padding, pads):
    return padding.upper() if isinstance(padding, str) else _conv.tf_pads(pads)


def _tf_conv2d(x, w, b, *, stride=1, padding=0, dilation=1, groups=1):
    tf = lazy.tf()
    g = _geometry(x, w, stride, padding, dilation, groups)
    # NHWC and HWIO; a kernel with C/groups input channels makes tf.nn.conv2d grouped
    y = tf.nn.conv2d(layouts.nchw_to_nhwc(x), layouts.oihw_to_hwio(w), g.stride, _tf_padding(padding, g.pads),
                     dilations=g.dilation)
    return layouts.nhwc_to_nchw(y + b)


def _tf_depthwise(x, w, b, *, stride=1, padding=0, dilation=1, groups=1):
    tf = lazy.tf()
    g = _geometry(x, w, stride, padding, dilation, groups)
    kernel = layouts.depthwise_oihw_to_hwcm(w, int(x.shape[1]))
    y = tf.nn.depthwise_conv2d(layouts.nchw_to_nhwc(x), kernel, [1, *g.stride, 1], _tf_padding(padding, g.pads),
                               dilations=g.dilation)
    return layouts.nhwc_to_nchw(y + b)


def _keras_conv2d(x, w, b, *, stride=1, padding=0, dilation=1, groups=1):
    keras = lazy.keras()
    layer = keras.layers.Conv2D(int(w.shape[0]), tuple(w.shape[2:]), strides=stride, padding=padding,
                                dilation_rate=dilation, groups=groups, dtype=x.dtype.name)
    layer.build((None, None, None, int(x.shape[1])))
    layer.set_weights([layouts.oihw_to_hwio(w.numpy()), b.numpy()])
    return layouts.nhwc_to_nchw(layer(layouts.nchw_to_nhwc(x)))


def _keras_depthwise(x, w, b, *, stride=1, padding=0, dilation=1, groups=1):
    keras = lazy.keras()
    channels = int(x.shape[1])
    layer = keras.layers.DepthwiseConv2D(tuple(w.shape[2:]), strides=stride, padding=padding,
                                         depth_multiplier=int(w.shape[0]) // channels, dilation_rate=dilation,
                                         dtype=x.dtype.name)
    layer.build((None, None, None, channels))
    layer.set_weights([layouts.depthwise_oihw_to_hwcm(w.numpy(), channels), b.numpy()])
    return layouts.nhwc_to_nchw(layer(layouts.nchw_to_nhwc(x)))


def _string_padding(case):
    return isinstance(case.kwargs.get("padding"), str)


def _depthwise(case):
    groups = case.kwargs.get("groups", 1)
    return groups > 1 and groups == case.inputs()["x"].shape[1]


def _grouped_not_depthwise(case):
    return case.kwargs.get("groups", 1) == 1 or not _depthwise(case)


def _tf_cpu_backward(case):
    # TF's CPU kernels compute grouped and dilated convs forward, but raise on their
    # gradients ("not supported on CPU"): those cases compare the value only
    return case.kwargs.get("groups", 1) == 1 and case.kwargs.get("dilation", 1) == 1


def _keras_conv(case):
    # keras Conv2D cannot hold a dilated strided conv, nor (on CPU) a grouped one
    return _string_padding(case) and _grouped_not_depthwise(case)


# ---- porting: stride-2 'same' ---------------------------------------------------------

def _same_case(rng):
    return {"x": rng.standard_normal((2, 3, 8, 8)), "w": rng.standard_normal((4, 3, 3, 3)) / 3,
            "b": rng.standard_normal(4)}


def _tf_same_stride2(x, w, b):
    return _tf_conv2d(x, w, b, stride=2, padding="same")


def _torch_stride2(pads):
    def run(x, w, b):
        F = lazy.F()
        if pads is None:
            return F.conv2d(x, w, b, stride=2, padding=1)
        return F.conv2d(F.pad(x, pads), w, b, stride=2)
    return run


# ---- porting: a Keras kernel from OIHW --------------------------------------------------

def _keras_kernel(convert):
    def run(x, w, b):
        keras = lazy.keras()
        layer = keras.layers.Conv2D(int(w.shape[0]), 3, padding="same", dtype=x.dtype.name)
        layer.build((None, None, None, int(x.shape[1])))
        layer.set_weights([convert(w.numpy()), b.numpy()])
        return layouts.nhwc_to_nchw(layer(layouts.nchw_to_nhwc(x)))
    return run


def _torch_same(x, w, b):
    return lazy.F().conv2d(x, w, b, padding="same")


def _convolution_layer(module, ref, kwargs):
    """The book's Convolution class (numpy_impl.conv.Convolution): forward keeps the column
    matrix, backward reuses it, returns dx and sets dW and db; held to conv2d's reference."""
    x, w, b = ref.inputs["x"], ref.inputs["w"], ref.inputs.get("b")
    layer = module.Convolution(w, b, **kwargs)
    out = layer.forward(x)
    dx = layer.backward(ref.cotangent.astype(x.dtype))
    pairs = {"forward": (out, ref.out), "grad:x": (dx, ref.grads["x"]), "grad:w": (layer.dW, ref.grads["w"])}
    if b is not None:
        pairs["grad:b"] = (layer.db, ref.grads["b"])
    return pairs


CONCEPT = Concept(
    name="conv2d",
    module="conv",
    family="convolution",
    lesson=3,
    math="y[n, o, i, j] = b[o] + sum_{c, p, q} x_pad[n, g(o) C/G + c, i*S + p*D, j*S + q*D] w[o, c, p, q]  "
         "(cross-correlation, no kernel flip) = im2col(x) @ W.reshape(O, -1)^T;  "
         "dW = dy^T col,  dx = col2im(dy W),  db = sum over n, i, j",
    japanese="畳み込み層（Convolution、im2colによる実装）",
    signature="conv2d(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1) -> [N, O, OH, OW]; "
              "x NCHW, w OIHW [O, C/groups, kh, kw]; padding an int, (ph, pw), (top, bottom, left, right), "
              "'valid' or 'same' (TensorFlow's rule: asymmetric for stride > 1)",
    differentiable=("x", "w", "b"),
    layer=_convolution_layer,
    book_layer="Convolution",
    cases=(
        Case("box-filter", _box_filter, seed=421, golden=_box_filter_golden,
             note="2x2 ones over 0..8: the four block sums"),
        Case("3x3-pad1", _make((2, 3, 6, 6), (4, 3, 3, 3)), {"padding": 1}, seed=422,
             note="the shape-keeping 3x3 conv of every CNN"),
        Case("same-stride2-even", _make((2, 3, 8, 8), (4, 3, 3, 3)), {"stride": 2, "padding": "same"}, seed=423,
             note="TF pads (0, 1): asymmetric"),
        Case("same-stride2-odd", _make((1, 2, 7, 7), (3, 2, 3, 3)), {"stride": 2, "padding": "same"}, seed=424,
             note="TF pads (1, 1) here: the same rule, symmetric by accident of the size"),
        Case("explicit-asymmetric", _make((2, 2, 6, 5), (3, 2, 3, 2)), {"stride": (2, 1), "padding": (0, 1, 2, 0)},
             seed=425),
        Case("valid-5x3", _make((1, 3, 7, 6), (2, 3, 5, 3)), {"padding": "valid"}, seed=426),
        Case("dilation2", _make((1, 2, 7, 7), (3, 2, 3, 3)), {"dilation": 2, "padding": 2}, seed=427),
        Case("groups2", _make((2, 4, 5, 5), (6, 2, 3, 3)), {"padding": 1, "groups": 2}, seed=428),
        Case("depthwise-m2", _make((2, 3, 5, 5), (6, 1, 3, 3)), {"padding": "same", "groups": 3}, seed=429,
             note="groups = C: each channel its own two filters (MobileNet's depthwise conv)"),
        Case("pointwise-1x1", _make((2, 4, 3, 3), (5, 4, 1, 1)), seed=430),
    ),
    error_cases=(
        ErrorCase("x-rank-3", lambda: {"x": np.ones((3, 5, 5)), "w": np.ones((2, 3, 3, 3)), "b": np.ones(2)},
                  ValueError, r"conv2d: x must have rank 4 \(\[N, C, H, W\], the canonical NCHW layout\)"),
        ErrorCase("w-hwio", lambda: {"x": np.ones((1, 3, 5, 5)), "w": np.ones((2, 2, 3, 4)), "b": np.ones(2)},
                  ValueError, r"conv2d: w has 2 input channels per filter; x has 3 channels in 1 group\(s\), "
                              r"so w must be \[2, 3, kh, kw\] \(OIHW\)"),
        ErrorCase("groups", lambda: {"x": np.ones((1, 4, 5, 5)), "w": np.ones((3, 2, 3, 3)), "b": np.ones(3)},
                  ValueError, r"conv2d: groups=2 must divide both the 4 input and the 3 output channels",
                  {"groups": 2}),
        ErrorCase("bias", lambda: {"x": np.ones((1, 3, 5, 5)), "w": np.ones((2, 3, 3, 3)), "b": np.ones(3)},
                  ValueError, r"conv2d: b must have shape \(2,\) \(one bias per output channel\)"),
        ErrorCase("padding-form", lambda: {"x": np.ones((1, 3, 5, 5)), "w": np.ones((2, 3, 3, 3)), "b": np.ones(2)},
                  ValueError, r"conv2d: padding must be an int, a pair \(ph, pw\), \(top, bottom, left, right\), "
                              r"'valid' or 'same', got \(1, 2, 3\)", {"padding": (1, 2, 3)}),
        ErrorCase("too-small", lambda: {"x": np.ones((1, 3, 2, 2)), "w": np.ones((2, 3, 3, 3)), "b": np.ones(2)},
                  ValueError, r"conv2d: the kernel \(3, 3\) \(dilation \(1, 1\)\) does not fit the input \(2, 2\)"),
        ErrorCase("integer-x", lambda: {"x": np.ones((1, 3, 5, 5), dtype=np.int64), "w": np.ones((2, 3, 3, 3)),
                                        "b": np.ones(2)},
                  TypeError, r"conv2d: x must be a floating-point array"),
    ),
    oracles=(
        Oracle("torch", "F.conv2d (F.pad first where the padding is asymmetric)", _torch_conv2d),
        Oracle("tf", "tf.nn.conv2d (NHWC, HWIO)", _tf_conv2d,
               applies=lambda case: _grouped_not_depthwise(case) and _tf_cpu_backward(case)),
        Oracle("tf", "tf.nn.conv2d (grouped or dilated: no CPU gradient in TF)", _tf_conv2d,
               applies=lambda case: _grouped_not_depthwise(case) and not _tf_cpu_backward(case),
               differentiable=False),
        Oracle("tf", "tf.nn.depthwise_conv2d", _tf_depthwise, applies=_depthwise),
        # a layer owns its kernel as a variable: only its value is compared
        Oracle("tf", "keras.layers.Conv2D (kernel oihw_to_hwio)", _keras_conv2d, applies=_keras_conv,
               differentiable=False),
        Oracle("tf", "keras.layers.DepthwiseConv2D (kernel depthwise_oihw_to_hwcm)", _keras_depthwise,
               applies=lambda case: _depthwise(case) and _string_padding(case), differentiable=False),
    ),
    porting=(
        PortingCase(
            "stride2-same-as-padding1",
            "TF/Keras padding='same' with stride 2 pads total = max((ceil(H/S)-1) S + k - H, 0), the smaller "
            "half first: (0, 1) for k=3 on 8 pixels. torch refuses padding='same' with stride > 1, and the "
            "usual port padding=1 gives the right shape (4x4) but windows shifted by one pixel. Fix: "
            "F.pad(x, (left, right, top, bottom)) with TF's split, then padding=0.",
            _same_case,
            reference=Side("tf", "tf.nn.conv2d(x, w, strides=2, padding='SAME')", _tf_same_stride2),
            naive=Side("torch", "F.conv2d(x, w, b, stride=2, padding=1)", _torch_stride2(None)),
            fixed=Side("torch", "F.conv2d(F.pad(x, (0, 1, 0, 1)), w, b, stride=2)", _torch_stride2((0, 1, 0, 1))),
            seed=431,
            source="tensorflow nn_ops.py 'Notes on padding'; pytorch#67551; keras#19291"),
        PortingCase(
            "conv-kernel-oihw-to-hwio",
            "torch stores a conv kernel [O, I, kh, kw], Keras [kh, kw, I, O]. reshape(kh, kw, I, O) has the "
            "right shape and is accepted, but scrambles the taps; the permutation transpose(2, 3, 1, 0) "
            "(layouts.oihw_to_hwio) is the port.",
            _same_case,
            reference=Side("torch", "F.conv2d(x, w, b, padding='same')", _torch_same),
            naive=Side("tf", "Conv2D(4, 3, padding='same').set_weights([w.reshape(3, 3, 3, 4), b])",
                       _keras_kernel(lambda w: w.reshape(3, 3, 3, 4))),
            fixed=Side("tf", "Conv2D(...).set_weights([layouts.oihw_to_hwio(w), b])",
                       _keras_kernel(layouts.oihw_to_hwio)),
            seed=432,
            source="torch.nn.Conv2d weight (out, in/groups, kH, kW); keras.layers.Conv2D kernel "
                   "(kh, kw, in, out)"),
    ),
)
