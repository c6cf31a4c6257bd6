"""Convolution 畳み込み演算 by im2col, as in ゼロから作る 7.4: unroll every window of the
input into a row of a matrix, and the convolution becomes one matrix product.

    col = im2col(x)              (N*OH*OW, C*kh*kw)   one row per output position
    out = col @ W.reshape(O, -1).T                    one column per filter
    backward: dW = dout^T col,  dcol = dout W,  dx = col2im(dcol)

col2im is im2col's adjoint: it puts every entry of a column matrix back where it came
from, ADDING where windows overlap (a value read by several windows receives the sum
of their gradients). The transposed convolution is col2im of x @ W.

Where conv2d's speed comes from (rosetta bench conv):
- im2col copies from a strided *view* (sliding_window_view): no Python loop over
  positions, one copy of the column matrix;
- conv2d orders the columns channels-last, (kh, kw, C) instead of the book's (C, kh, kw).
  The image is moved to NHWC first (a cheap copy of x), so each copied run is C values
  long instead of kw values: ~3x faster im2col at C=64;
- the backward asks BLAS for dcol one kernel tap at a time, (kh*kw, N*OH*OW, C), so
  col2im adds kh*kw contiguous slabs instead of gathering a strided 6-D array;
- everything stays in the input's dtype: float32 GEMMs are twice float64's speed.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from numpy_impl import numerics
from shared.concepts import _conv
from shared.concepts._conv import effective


def _padded_nhwc(x, pads, value=0.0):
    top, bottom, left, right = pads
    return np.pad(x.transpose(0, 2, 3, 1), ((0, 0), (top, bottom), (left, right), (0, 0)),
                  constant_values=value)


def _windows(xp, g):
    """A view (N, OH, OW, C, kh, kw) of the padded NHWC image: [n, i, j, c, p, q] is
    xp[n, i*S + p*D, j*S + q*D, c]. No copy is made."""
    (kh, kw), (sh, sw), (dh, dw) = g.kernel, g.stride, g.dilation
    windows = sliding_window_view(xp, (effective(kh, dh), effective(kw, dw)), axis=(1, 2))
    return windows[:, ::sh, ::sw, :, ::dh, ::dw]


def _im2col(x, g, *, channels_last=False, pad_value=0.0):
    n = x.shape[0]
    windows = _windows(_padded_nhwc(x, g.pads, pad_value), g)
    if channels_last:
        windows = windows.transpose(0, 1, 2, 4, 5, 3)
    return windows.reshape(n * g.out[0] * g.out[1], -1)  # the one copy


def im2col(x, kernel, *, stride=1, padding=0, dilation=1, pad_value=0.0, channels_last=False):
    """The book's column matrix: row n*OH*OW + i*OW + j holds the window under output
    position (i, j) of image n, as C*kh*kw values in (C, kh, kw) order (torch's
    F.unfold order), or (kh, kw, C) with channels_last (TF's extract_patches order).
    pad_value: 0 for convolution, -inf for max pooling."""
    g = _conv.validate_im2col("im2col", x, kernel, stride=stride, padding=padding, dilation=dilation)
    return _im2col(x, g, channels_last=channels_last, pad_value=pad_value)


def im2col_backward(dy, x, kernel, *, stride=1, padding=0, dilation=1, pad_value=0.0, channels_last=False):
    return col2im(dy, x.shape, kernel, stride=stride, padding=padding, dilation=dilation,
                  channels_last=channels_last)


def _add_taps(tap, g, padded_hw, n, c, dtype):
    """col2im's core: tap(p, q) (N, OH, OW, C) is what kernel tap (p, q) read at every
    output position; add each back at the pixels it read, into a padded NHWC image."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = g.kernel, g.stride, g.dilation, g.out
    xp = np.zeros((n, *padded_hw, c), dtype=dtype)
    for p in range(kh):
        for q in range(kw):
            # += : windows overlap when S < k, and each overlap is a sum of gradients
            xp[:, p * dh:p * dh + sh * (oh - 1) + 1:sh, q * dw:q * dw + sw * (ow - 1) + 1:sw] += tap(p, q)
    return xp


def _unpad_nchw(xp, pads):
    top, bottom, left, right = pads
    return xp[:, top:xp.shape[1] - bottom, left:xp.shape[2] - right].transpose(0, 3, 1, 2)


def _col2im(col, x_shape, g, *, channels_last=False):
    n, c, h, w = x_shape
    (kh, kw), (oh, ow) = g.kernel, g.out
    if channels_last:
        taps = col.reshape(n, oh, ow, kh, kw, c).transpose(3, 4, 0, 1, 2, 5)
    else:
        taps = col.reshape(n, oh, ow, c, kh, kw).transpose(4, 5, 0, 1, 2, 3)
    top, bottom, left, right = g.pads
    xp = _add_taps(lambda p, q: taps[p, q], g, (h + top + bottom, w + left + right), n, c, col.dtype)
    return np.ascontiguousarray(_unpad_nchw(xp, g.pads))


def col2im(col, x_shape, kernel, *, stride=1, padding=0, dilation=1, channels_last=False):
    """Back from a column matrix to an image of shape x_shape, summing overlaps."""
    g = _conv.validate_col2im("col2im", col, x_shape, kernel, stride=stride, padding=padding, dilation=dilation)
    return _col2im(col, tuple(x_shape), g, channels_last=channels_last)


def col2im_backward(dy, col, x_shape, kernel, *, stride=1, padding=0, dilation=1, channels_last=False):
    g = _conv.validate_col2im("col2im", col, x_shape, kernel, stride=stride, padding=padding, dilation=dilation)
    return _im2col(dy, g, channels_last=channels_last)


# ---- conv2d -------------------------------------------------------------------------

def _group_columns(col, groups, taps):
    """(N*OH*OW, kh*kw*C) channels-last columns -> (G, N*OH*OW, kh*kw*C/G): each group
    sees only its own channels. For groups=1 this is a view."""
    rows = col.shape[0]
    return col.reshape(rows, taps, groups, -1).transpose(2, 0, 1, 3).reshape(groups, rows, -1)


def _group_filters(w, groups):
    """OIHW [O, C/G, kh, kw] -> (G, O/G, kh*kw*C/G), matching the channels-last columns."""
    o, per_group, kh, kw = w.shape
    return w.reshape(groups, o // groups, per_group, kh, kw).transpose(0, 1, 3, 4, 2).reshape(groups, o // groups, -1)


def _conv2d(x, w, b, g, groups):
    """(output, column matrix): the forward, and what its backward needs."""
    n, o, (kh, kw), (oh, ow) = x.shape[0], w.shape[0], g.kernel, g.out
    col = _group_columns(_im2col(x, g, channels_last=True), groups, kh * kw)
    out = col @ _group_filters(w, groups).transpose(0, 2, 1)  # (G, N*OH*OW, O/G): one GEMM per group
    out = out.reshape(groups, n, oh, ow, -1).transpose(1, 0, 4, 2, 3).reshape(n, o, oh, ow)
    return (out if b is None else out + b.reshape(1, -1, 1, 1)), col


def _conv2d_backward(dy, x, w, b, g, groups, col):
    n, c, h, width = x.shape
    o, per_group, kh, kw = w.shape
    # dy as rows per output position, split by group: (G, N*OH*OW, O/G)
    dy_rows = dy.reshape(n, groups, o // groups, *g.out).transpose(1, 0, 3, 4, 2).reshape(groups, -1, o // groups)

    dw = dy_rows.transpose(0, 2, 1) @ col  # dW = dout^T col, per group
    dw = dw.reshape(o, kh, kw, per_group).transpose(0, 3, 1, 2)

    # dcol = dout W, computed one kernel tap at a time and added back at once (col2im):
    # each (N*OH*OW, C) product is small enough to stay in cache, and the full dcol
    # matrix is never allocated
    w_taps = w.reshape(groups, o // groups, per_group, kh, kw)

    def dtap(p, q):  # (G, N*OH*OW, O/G) @ (G, O/G, C/G) -> (N, OH, OW, C)
        return (dy_rows @ w_taps[..., p, q]).transpose(1, 0, 2).reshape(n, *g.out, c)

    top, bottom, left, right = g.pads
    dx = _unpad_nchw(_add_taps(dtap, g, (h + top + bottom, width + left + right), n, c, dy.dtype), g.pads)
    dx = np.ascontiguousarray(dx)
    if b is None:
        return dx, dw
    return dx, dw, dy.sum(axis=(0, 2, 3))


def conv2d(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    g = _conv.validate_conv2d("conv2d", x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    return _conv2d(x, w, b, g, groups)[0]


def conv2d_backward(dy, x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    # a function keeps nothing between calls: the column matrix is built again
    g = _conv.validate_conv2d("conv2d", x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    col = _group_columns(_im2col(x, g, channels_last=True), groups, g.kernel[0] * g.kernel[1])
    return _conv2d_backward(dy, x, w, b, g, groups, col)


class Convolution:
    """The book's Convolution layer (7.4.3): forward keeps x and the column matrix, so
    backward does not build it again; backward sets dW and db and returns dx."""

    def __init__(self, W, b=None, *, stride=1, padding=0, dilation=1, groups=1):
        self.W, self.b = W, b
        self.options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        self.x = self.col = self.geometry = None
        self.dW = self.db = None

    def forward(self, x):
        self.geometry = _conv.validate_conv2d("conv2d", x, self.W, self.b, **self.options)
        out, self.col = _conv2d(x, self.W, self.b, self.geometry, self.options["groups"])
        self.x = x
        return out

    def backward(self, dout):
        dx, self.dW, *db = _conv2d_backward(dout, self.x, self.W, self.b, self.geometry,
                                            self.options["groups"], self.col)
        self.db = db[0] if db else None
        return dx


# ---- transposed convolution -----------------------------------------------------------

def _crop(full, g, out):
    top, _, left, _ = g.pads
    return full[:, :, top:top + out[0], left:left + out[1]]


def conv_transpose2d(x, w, b=None, *, stride=1, padding=0, output_padding=0):
    """y = col2im(x_rows @ W.reshape(I, O*kh*kw)), then cropped by the padding: the
    adjoint of conv2d (転置畳み込み), so its forward is conv2d's backward."""
    g = _conv.validate_conv_transpose2d("conv_transpose2d", x, w, b, stride=stride, padding=padding,
                                        output_padding=output_padding)
    n, i, h, width = x.shape
    full, inner = _conv.transpose_geometry(x, g)
    x_rows = x.transpose(0, 2, 3, 1).reshape(n * h * width, i)
    col = x_rows @ w.reshape(i, -1)  # (N*H*W, O*kh*kw): the book's column order (O, kh, kw)
    y = np.ascontiguousarray(_crop(_col2im(col, (n, w.shape[1], *full), inner), g, g.out))
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def conv_transpose2d_backward(dy, x, w, b=None, *, stride=1, padding=0, output_padding=0):
    g = _conv.validate_conv_transpose2d("conv_transpose2d", x, w, b, stride=stride, padding=padding,
                                        output_padding=output_padding)
    n, i, h, width = x.shape
    full, inner = _conv.transpose_geometry(x, g)
    dfull = np.zeros((n, w.shape[1], *full), dtype=dy.dtype)
    _crop(dfull, g, g.out)[...] = dy  # the cropped-away border had no effect: gradient 0
    dcol = _im2col(dfull, inner)      # (N*H*W, O*kh*kw), the forward's col
    x_rows = x.transpose(0, 2, 3, 1).reshape(n * h * width, i)
    dx = (dcol @ w.reshape(i, -1).T).reshape(n, h, width, i).transpose(0, 3, 1, 2)
    dw = (x_rows.T @ dcol).reshape(w.shape)
    if b is None:
        return np.ascontiguousarray(dx), dw
    return np.ascontiguousarray(dx), dw, dy.sum(axis=(0, 2, 3))


# ---- depthwise-separable convolution (MobileNet) --------------------------------------

def separable_conv2d(x, w_depth, w_point, b=None, *, stride=1, padding=0, dilation=1):
    """Depthwise conv (each channel filtered on its own: groups = C) then a pointwise
    1x1 conv that mixes channels, with one bias at the end and nothing in between, as
    keras.layers.SeparableConv2D."""
    _conv.validate_separable("separable_conv2d", x, w_depth, w_point, b)
    h = conv2d(x, w_depth, stride=stride, padding=padding, dilation=dilation, groups=x.shape[1])
    return conv2d(h, w_point, b)


def separable_conv2d_backward(dy, x, w_depth, w_point, b=None, *, stride=1, padding=0, dilation=1):
    _conv.validate_separable("separable_conv2d", x, w_depth, w_point, b)
    depthwise = dict(stride=stride, padding=padding, dilation=dilation, groups=x.shape[1])
    h = conv2d(x, w_depth, **depthwise)
    dh, dw_point, *db = conv2d_backward(dy, h, w_point, b)
    dx, dw_depth = conv2d_backward(dh, x, w_depth, **depthwise)
    return (dx, dw_depth, dw_point, *db)


# ---- weight-standardised convolution (BiT's StdConv2d) --------------------------------

def _standardize(w, eps):
    """(w_hat, 1 / sqrt(var + eps)) per output filter, over its (I, kh, kw) weights; the
    biased variance (divide by K = I kh kw), as BiT's tf.nn.moments and var_mean(unbiased=False)."""
    centred = numerics.centred(w, (1, 2, 3))  # exact 0 for a constant filter (numerics.py)
    # scaled (numerics.py): the squares of 1e30-sized float32 weights would overflow
    inv_std = 1.0 / numerics.std(centred, (1, 2, 3), eps)
    return centred * inv_std, inv_std


def weight_standardize(w, *, eps=1e-10):
    """w_hat[o] = (w[o] - mean_o) / sqrt(var_o + eps): 重みの標準化 (Qiao et al. 2019)."""
    return _standardize(w, eps)[0]


def weight_standardize_backward(dw_hat, w, *, eps=1e-10):
    """dL/dw from dL/dw_hat, one filter at a time: batch norm's backward, over K weights
    instead of a batch. With s = sqrt(var + eps) and w_hat = (w - mu) / s,

        d w_hat_i / d w_j = (delta_ij - 1/K) / s - (w_i - mu) / s^2 * ds/dw_j,
        ds/dw_j = (1 / 2s) dvar/dw_j = (1 / 2s) 2 (w_j - mu) / K = s w_hat_j / K
        (the mean's own derivative drops out of dvar: sum_i (w_i - mu) = 0), so

        d w_hat_i / d w_j = (delta_ij - 1/K - w_hat_i w_hat_j / K) / s, and summing g_i = dw_hat_i:
        dw_j = (g_j - mean(g) - w_hat_j mean(g w_hat)) / s.

    With eps > 0, w_hat's variance is var / (var + eps) < 1; the formula holds as written."""
    w_hat, inv_std = _standardize(w, eps)
    g = dw_hat
    return (g - g.mean(axis=(1, 2, 3), keepdims=True)
            - w_hat * (g * w_hat).mean(axis=(1, 2, 3), keepdims=True)) * inv_std


def std_conv2d(x, w, b=None, *, stride=1, padding=0, eps=1e-10):
    """conv2d with a standardised kernel; eps=1e-10 as BiT's reference code (big_transfer
    bit_tf2/models.py, bit_pytorch/models.py), see shared/concepts/std_conv2d.py."""
    from shared.concepts import std_conv2d as spec
    g = spec.validate(x, w, b, stride=stride, padding=padding, eps=eps)
    return _conv2d(x, weight_standardize(w, eps=eps), b, g, 1)[0]


def std_conv2d_backward(dy, x, w, b=None, *, stride=1, padding=0, eps=1e-10):
    """(dx, dw[, db]): conv2d's backward with w_hat gives dx, dw_hat (and db); dw follows
    through the standardisation."""
    from shared.concepts import std_conv2d as spec
    g = spec.validate(x, w, b, stride=stride, padding=padding, eps=eps)
    col = _group_columns(_im2col(x, g, channels_last=True), 1, g.kernel[0] * g.kernel[1])
    dx, dw_hat, *db = _conv2d_backward(dy, x, weight_standardize(w, eps=eps), b, g, 1, col)
    return (dx, weight_standardize_backward(dw_hat, w, eps=eps), *db)
