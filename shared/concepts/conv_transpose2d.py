"""conv_transpose2d: the transposed convolution (転置畳み込み, "deconvolution"): conv2d's
backward with respect to its input, used as a layer to upsample (DCGAN's generator)."""
import numpy as np

from shared import layouts, lazy
from shared.concepts import _conv
from shared.spec import Case, Concept, ErrorCase, Oracle, PortingCase, Side


def _make(x_shape, w_shape):
    def make(rng):
        return {"x": rng.standard_normal(x_shape),
                "w": rng.standard_normal(w_shape) / np.sqrt(w_shape[0]),
                "b": rng.standard_normal(w_shape[1])}
    return make


def _upsample(rng):
    return {"x": np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), "w": np.ones((1, 1, 2, 2)), "b": np.zeros(1)}


def _upsample_golden(inputs):
    # a 2x2 kernel of ones at stride 2 copies each pixel into its own 2x2 block
    return np.kron(inputs["x"], np.ones((2, 2)))


def _crops(x, w, stride, padding, output_padding):
    return _conv.validate_conv_transpose2d("conv_transpose2d", x, w, None, stride=stride, padding=padding,
                                           output_padding=output_padding).pads


def _torch_conv_transpose2d(x, w, b, *, stride=1, padding=0, output_padding=0):
    F = lazy.F()
    if isinstance(padding, int) or (isinstance(padding, tuple) and len(padding) == 2):
        return F.conv_transpose2d(x, w, b, stride=stride, padding=padding, output_padding=output_padding)
    # the full output, then F.pad with negative amounts crops (and positive ones extend)
    top, bottom, left, right = _crops(x, w, stride, padding, output_padding)
    y = F.pad(F.conv_transpose2d(x, w, stride=stride), (-left, -right, -top, -bottom))
    return y + b.reshape(1, -1, 1, 1)  # after the pad: extended rows get the bias too, as in Keras


def _out_shape(x, w, stride, padding):
    crops = _crops(x, w, stride, padding, 0)
    s = _conv.pair("conv_transpose2d", "stride", stride)
    full = [(int(x.shape[2]) - 1) * s[0] + int(w.shape[2]), (int(x.shape[3]) - 1) * s[1] + int(w.shape[3])]
    return [int(x.shape[0]), full[0] - crops[0] - crops[1], full[1] - crops[2] - crops[3], int(w.shape[1])]


def _tf_conv2d_transpose(x, w, b, *, stride=1, padding=0, output_padding=0):
    tf = lazy.tf()
    y = tf.nn.conv2d_transpose(layouts.nchw_to_nhwc(x), layouts.iohw_to_keras_transpose(w),
                               _out_shape(x, w, stride, padding), stride, padding.upper())
    return layouts.nhwc_to_nchw(y + b)


def _keras_conv2d_transpose(x, w, b, *, stride=1, padding=0, output_padding=0):
    keras = lazy.keras()
    layer = keras.layers.Conv2DTranspose(int(w.shape[1]), tuple(w.shape[2:]), strides=stride, padding=padding,
                                         dtype=x.dtype.name)
    layer.build((None, None, None, int(x.shape[1])))
    layer.set_weights([layouts.iohw_to_keras_transpose(w.numpy()), b.numpy()])
    return layouts.nhwc_to_nchw(layer(layouts.nchw_to_nhwc(x)))


def _string_padding(case):
    return isinstance(case.kwargs.get("padding", 0), str)


# ---- porting: Keras 'same' vs torch's padding=1, output_padding=1 -------------------------

def _recipe_case(rng):
    return {"x": rng.standard_normal((2, 3, 4, 4)), "w": rng.standard_normal((3, 2, 3, 3)) / 2,
            "b": rng.standard_normal(2)}


def _keras_same(x, w, b):
    return _keras_conv2d_transpose(x, w, b, stride=2, padding="same")


def _torch_recipe(x, w, b):
    return lazy.F().conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)


def _torch_cropped(x, w, b):
    # full output 2H + 1; Keras cuts k - s = 1 row, the smaller half (0) at the top
    return lazy.F().conv_transpose2d(x, w, b, stride=2)[:, :, :-1, :-1]


CONCEPT = Concept(
    name="conv_transpose2d",
    module="conv",
    family="convolution",
    lesson=6,
    math="y = crop(col2im(x_rows @ W.reshape(I, O*kh*kw))) + b, the full output (H-1)S + k cropped by the "
         "padding;  it is conv2d's input gradient: dx = conv2d(dy, W) (with the crops undone),  "
         "dW = x_rows^T im2col(dy)",
    japanese="転置畳み込み（Transposed Convolution / Deconvolution）",
    signature="conv_transpose2d(x, w, b=None, *, stride=1, padding=0, output_padding=0) -> [N, O, OH, OW]; "
              "w [in, out, kh, kw] (torch's ConvTranspose2d layout); numeric padding crops like torch "
              "(OH = (H-1)S - 2P + k + output_padding), 'valid' and 'same' size the output like Keras "
              "(H S + max(k - S, 0) and H S)",
    differentiable=("x", "w", "b"),
    cases=(
        Case("upsample-2x2", _upsample, {"stride": 2}, seed=441, golden=_upsample_golden,
             note="a kernel of ones at stride 2 = nearest-neighbour upsampling"),
        Case("stride2-pad1-outpad1", _make((2, 3, 4, 4), (3, 2, 3, 3)),
             {"stride": 2, "padding": 1, "output_padding": 1}, seed=442, note="torch's route to 2H"),
        Case("dcgan-4x4-stride2-pad1", _make((2, 4, 3, 3), (4, 2, 4, 4)), {"stride": 2, "padding": 1}, seed=443,
             note="DCGAN's generator layer: exactly 2H"),
        Case("same-stride2", _make((2, 3, 4, 4), (3, 2, 3, 3)), {"stride": 2, "padding": "same"}, seed=444,
             note="Keras crops k - S = 1: (0, 1)"),
        Case("valid-stride2", _make((1, 2, 3, 4), (2, 3, 3, 3)), {"stride": 2, "padding": "valid"}, seed=445),
        Case("same-kernel-smaller-than-stride", _make((1, 2, 3, 3), (2, 2, 2, 2)), {"stride": 3, "padding": "same"},
             seed=446, note="k < S: the output H S is longer than the full output: zeros at the end"),
        Case("pair-padding", _make((2, 2, 5, 4), (2, 3, 3, 2)), {"padding": (1, 0)}, seed=447),
    ),
    error_cases=(
        ErrorCase("w-channels", lambda: {"x": np.ones((1, 3, 4, 4)), "w": np.ones((2, 3, 3, 3)), "b": np.ones(3)},
                  ValueError, r"conv_transpose2d: w must be \[in, out, kh, kw\] with in = 3, the channels of x"),
        ErrorCase("output-padding", lambda: {"x": np.ones((1, 2, 4, 4)), "w": np.ones((2, 3, 3, 3)), "b": np.ones(3)},
                  ValueError, r"conv_transpose2d: output_padding \(2, 2\) must be smaller than the stride \(2, 2\)",
                  {"stride": 2, "output_padding": 2}),
        ErrorCase("output-padding-with-same", lambda: {"x": np.ones((1, 2, 4, 4)), "w": np.ones((2, 3, 3, 3)),
                                                       "b": np.ones(3)},
                  ValueError, r"conv_transpose2d: output_padding goes with numeric padding \(torch\)",
                  {"stride": 2, "padding": "same", "output_padding": 1}),
        ErrorCase("crop-everything", lambda: {"x": np.ones((1, 2, 1, 1)), "w": np.ones((2, 3, 3, 3)), "b": np.ones(3)},
                  ValueError, r"conv_transpose2d: padding 2 crops away the whole output \(3, 3\)", {"padding": 2}),
    ),
    oracles=(
        Oracle("torch", "F.conv_transpose2d (then F.pad to crop where the padding is not torch's)",
               _torch_conv_transpose2d),
        Oracle("tf", "tf.nn.conv2d_transpose (kernel iohw_to_keras_transpose)", _tf_conv2d_transpose,
               applies=_string_padding),
        Oracle("tf", "keras.layers.Conv2DTranspose", _keras_conv2d_transpose, applies=_string_padding,
               differentiable=False),
    ),
    porting=(
        PortingCase(
            "conv-transpose-same-vs-padding1-output-padding1",
            "Keras Conv2DTranspose(k=3, strides=2, padding='same') outputs 2H by cropping k - S = 1 row of "
            "the full (H-1)S + k output at the BOTTOM (the smaller half, 0, at the top). The popular torch "
            "port padding=1, output_padding=1 also gives 2H, but crops the top row and adds one at the "
            "bottom: every pixel shifted by one. Fix: padding=0 and drop the last row and column. (For "
            "k=4, S=2, padding=1 is exact: the crop of 2 splits evenly.)",
            _recipe_case,
            reference=Side("tf", "keras.layers.Conv2DTranspose(2, 3, strides=2, padding='same')", _keras_same),
            naive=Side("torch", "F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)", _torch_recipe),
            fixed=Side("torch", "F.conv_transpose2d(x, w, b, stride=2)[:, :, :-1, :-1]", _torch_cropped),
            seed=448,
            source="keras conv_utils.deconv_output_length; pytorch2keras#7; torch.nn.ConvTranspose2d docs"),
    ),
)
