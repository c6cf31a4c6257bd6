"""im2col: every window of the (padded) image as one row of a matrix (ゼロから作る 7.4.3)."""
import numpy as np

from shared import lazy
from shared.concepts import _conv
from shared.spec import Case, Concept, ErrorCase, Hint, Oracle


def _make(shape):
    def make(rng):
        return {"x": rng.standard_normal(shape)}
    return make


def _book_example(inputs):
    # x = 1..16 as one 4x4 image; 3x3 windows, stride 1, no padding: 4 windows, the
    # top-left one holds 1 2 3 / 5 6 7 / 9 10 11, each next one shifted by 1 or 4
    first = np.array([1, 2, 3, 5, 6, 7, 9, 10, 11], dtype=float)
    return np.stack([first, first + 1, first + 4, first + 5])


def _torch_unfold(x, kernel, *, stride=1, padding=0, dilation=1, pad_value=0.0, channels_last=False):
    # F.unfold gives (N, C*kh*kw, L), channel-major like the book: the rows are its columns
    F = lazy.F()
    pads = _conv.validate_im2col("im2col", x, kernel, stride=stride, padding=padding, dilation=dilation).pads
    x = F.pad(x, _conv.torch_pads(pads), value=pad_value)
    cols = F.unfold(x, kernel, dilation=dilation, stride=stride)
    return cols.transpose(1, 2).reshape(-1, cols.shape[1])


def _tf_extract_patches(x, kernel, *, stride=1, padding=0, dilation=1, pad_value=0.0, channels_last=False):
    # tf.image.extract_patches works on NHWC and orders each patch (kh, kw, C)
    tf = lazy.tf()
    from shared import layouts
    g = _conv.validate_im2col("im2col", x, kernel, stride=stride, padding=padding, dilation=dilation)
    x = tf.pad(layouts.nchw_to_nhwc(x), _conv.tf_pads(g.pads), constant_values=pad_value)
    patches = tf.image.extract_patches(x, [1, *g.kernel, 1], [1, *g.stride, 1], [1, *g.dilation, 1], "VALID")
    patches = tf.reshape(patches, (-1, *g.kernel, int(x.shape[-1])))
    if not channels_last:
        patches = tf.transpose(patches, (0, 3, 1, 2))
    return tf.reshape(patches, (int(patches.shape[0]), -1))


def _channel_major(case):
    return not case.kwargs.get("channels_last", False)


CONCEPT = Concept(
    name="im2col",
    module="conv",
    family="convolution",
    lesson=1,
    hints=(Hint("forward", "step the windows by the stride in both directions: rows and columns", case="stride2-overlap"),),
    math="col[n*OH*OW + i*OW + j, (c, p, q)] = x_pad[n, c, i*S + p*D, j*S + q*D];  "
         "OH = (H + 2P - D(kh-1) - 1) / S + 1;  its backward is col2im (overlaps add up)",
    japanese="im2col（画像から行列への展開）",
    signature="im2col(x, kernel, *, stride=1, padding=0, dilation=1, pad_value=0.0, channels_last=False) "
              "-> (N*OH*OW, C*kh*kw); columns in (C, kh, kw) order (torch F.unfold) or (kh, kw, C) with "
              "channels_last (tf.image.extract_patches); pad_value -inf for max pooling",
    differentiable=("x",),
    cases=(
        Case("book-4x4", lambda rng: {"x": np.arange(1.0, 17.0).reshape(1, 1, 4, 4)}, {"kernel": 3}, seed=401,
             golden=_book_example, note="the 4 windows of a 4x4 image, written out"),
        Case("pad1-stride1", _make((2, 3, 5, 5)), {"kernel": 3, "padding": 1}, seed=402),
        Case("stride2-overlap", _make((2, 2, 7, 6)), {"kernel": (3, 2), "stride": 2, "padding": (1, 0)}, seed=403),
        Case("same-stride2-asymmetric", _make((1, 2, 8, 8)), {"kernel": 3, "stride": 2, "padding": "same"},
             seed=404, note="TF 'same' for k=3, s=2 on 8 pixels pads (0, 1): asymmetric"),
        Case("dilation2", _make((1, 2, 7, 7)), {"kernel": 3, "dilation": 2, "padding": (0, 1, 2, 0)}, seed=405),
        Case("channels-last", _make((2, 3, 5, 4)), {"kernel": 2, "stride": (1, 2), "channels_last": True}, seed=406),
    ),
    error_cases=(
        ErrorCase("rank-3", lambda: {"x": np.ones((3, 4, 4))}, ValueError,
                  r"im2col: x must have rank 4 \(\[N, C, H, W\], the canonical NCHW layout\)", {"kernel": 2}),
        ErrorCase("kernel-too-large", lambda: {"x": np.ones((1, 1, 3, 3))}, ValueError,
                  r"im2col: the kernel \(5, 5\) .* does not fit the input \(3, 3\)", {"kernel": 5}),
        ErrorCase("bad-padding", lambda: {"x": np.ones((1, 1, 4, 4))}, ValueError,
                  r"im2col: padding must be one of \('valid', 'same'\), got 'full'", {"kernel": 2, "padding": "full"}),
        ErrorCase("zero-stride", lambda: {"x": np.ones((1, 1, 4, 4))}, ValueError,
                  r"im2col: stride must be an int >= 1 or a pair of them, got 0", {"kernel": 2, "stride": 0}),
    ),
    oracles=(
        Oracle("torch", "F.unfold after F.pad", _torch_unfold, applies=_channel_major),
        Oracle("tf", "tf.image.extract_patches", _tf_extract_patches),
    ),
)
