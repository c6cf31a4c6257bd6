"""Convolution by im2col in PyTorch, from torch ops, mirroring numpy_impl.conv; autograd
gives the backward. F.conv2d, F.conv_transpose2d, F.unfold and F.fold are the oracles
these are checked against, so they are not used here.

Tensor.unfold is torch's sliding_window_view: a strided view of every window, no copy.
col2im adds each kernel tap's values back into a zeros image, slice by slice, as
numpy_impl does; autograd records the in-place adds, so its gradient is im2col.
"""
import torch
import torch.nn.functional as F

from shared import layouts
from shared.concepts import _conv
from shared.concepts._conv import effective
from torch_impl import numerics


def _padded_nhwc(x, pads, value=0.0):
    return layouts.nchw_to_nhwc(F.pad(x, _conv.torch_pads(pads), value=value))


def _windows(xp, g):
    """A view (N, OH, OW, C, kh, kw) of the padded NHWC image: [n, i, j, c, p, q] is
    xp[n, i*S + p*D, j*S + q*D, c]."""
    (kh, kw), (sh, sw), (dh, dw) = g.kernel, g.stride, g.dilation
    windows = xp.unfold(1, effective(kh, dh), sh).unfold(2, effective(kw, dw), sw)
    return windows[..., ::dh, ::dw]


def _im2col(x, g, *, channels_last=False, pad_value=0.0):
    windows = _windows(_padded_nhwc(x, g.pads, pad_value), g)
    if channels_last:
        windows = windows.permute(0, 1, 2, 4, 5, 3)
    return windows.reshape(x.shape[0] * g.out[0] * g.out[1], -1)  # the one copy


def im2col(x, kernel, *, stride=1, padding=0, dilation=1, pad_value=0.0, channels_last=False):
    """Row n*OH*OW + i*OW + j holds the window under output position (i, j) of image n,
    in (C, kh, kw) order, or (kh, kw, C) with channels_last. pad_value: -inf for max pooling."""
    g = _conv.validate_im2col("im2col", x, kernel, stride=stride, padding=padding, dilation=dilation)
    return _im2col(x, g, channels_last=channels_last, pad_value=pad_value)


def _col2im(col, x_shape, g, *, channels_last=False):
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = g.kernel, g.stride, g.dilation, g.out
    if channels_last:
        taps = col.reshape(n, oh, ow, kh, kw, c).permute(3, 4, 0, 1, 2, 5)
    else:
        taps = col.reshape(n, oh, ow, c, kh, kw).permute(4, 5, 0, 1, 2, 3)
    top, bottom, left, right = g.pads
    xp = torch.zeros((n, h + top + bottom, w + left + right, c), dtype=col.dtype, device=col.device)
    for p in range(kh):
        for q in range(kw):
            # += : windows overlap when S < k, and a pixel read by several gets their sum
            xp[:, p * dh:p * dh + sh * (oh - 1) + 1:sh, q * dw:q * dw + sw * (ow - 1) + 1:sw] += taps[p, q]
    return layouts.nhwc_to_nchw(xp[:, top:top + h, left:left + w])


def col2im(col, x_shape, kernel, *, stride=1, padding=0, dilation=1, channels_last=False):
    """Back from a column matrix to an image of shape x_shape, summing overlaps."""
    g = _conv.validate_col2im("col2im", col, x_shape, kernel, stride=stride, padding=padding, dilation=dilation)
    return _col2im(col, tuple(x_shape), g, channels_last=channels_last)


# ---- conv2d -------------------------------------------------------------------------

def _group_columns(col, groups, taps):
    """(N*OH*OW, kh*kw*C) channels-last columns -> (G, N*OH*OW, kh*kw*C/G): each group
    sees only its own channels."""
    rows = col.shape[0]
    return col.reshape(rows, taps, groups, -1).permute(2, 0, 1, 3).reshape(groups, rows, -1)


def _group_filters(w, groups):
    """OIHW [O, C/G, kh, kw] -> (G, kh*kw*C/G, O/G), matching the channels-last columns."""
    o = w.shape[0]
    hwio = layouts.oihw_to_hwio(w)  # (kh, kw, C/G, O): rows in the columns' (kh, kw, C) order
    return hwio.reshape(-1, groups, o // groups).permute(1, 0, 2)


def conv2d(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    g = _conv.validate_conv2d("conv2d", x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    n, o, (kh, kw), (oh, ow) = x.shape[0], w.shape[0], g.kernel, g.out
    col = _group_columns(_im2col(x, g, channels_last=True), groups, kh * kw)
    out = col @ _group_filters(w, groups)  # (G, N*OH*OW, O/G): one matmul per group
    out = out.reshape(groups, n, oh, ow, -1).permute(1, 2, 3, 0, 4).reshape(n, oh, ow, o)
    out = layouts.nhwc_to_nchw(out)
    return out if b is None else out + b.reshape(1, -1, 1, 1)


# ---- transposed convolution -----------------------------------------------------------

def conv_transpose2d(x, w, b=None, *, stride=1, padding=0, output_padding=0):
    """y = col2im(x_rows @ W.reshape(I, O*kh*kw)), then cropped by the padding: the
    adjoint of conv2d, so autograd's backward of it is a conv2d."""
    g = _conv.validate_conv_transpose2d("conv_transpose2d", x, w, b, stride=stride, padding=padding,
                                        output_padding=output_padding)
    n, i, h, width = x.shape
    full, inner = _conv.transpose_geometry(x, g)
    x_rows = layouts.nchw_to_nhwc(x).reshape(n * h * width, i)
    col = x_rows @ w.reshape(i, -1)  # (N*H*W, O*kh*kw): the book's column order (O, kh, kw)
    top, _, left, _ = g.pads
    y = _col2im(col, (n, w.shape[1], *full), inner)[:, :, top:top + g.out[0], left:left + g.out[1]]
    return y if b is None else y + b.reshape(1, -1, 1, 1)


# ---- depthwise-separable convolution (MobileNet) --------------------------------------

def separable_conv2d(x, w_depth, w_point, b=None, *, stride=1, padding=0, dilation=1):
    """Depthwise conv (groups = C) then a pointwise 1x1 conv, one bias at the end."""
    _conv.validate_separable("separable_conv2d", x, w_depth, w_point, b)
    h = conv2d(x, w_depth, stride=stride, padding=padding, dilation=dilation, groups=x.shape[1])
    return conv2d(h, w_point, b)


# ---- weight-standardised convolution (BiT's StdConv2d) --------------------------------

def weight_standardize(w, *, eps=1e-10):
    """Per output filter over (I, kh, kw), the biased variance, as big_transfer
    bit_pytorch/models.py's torch.var_mean(w, dim=[1, 2, 3], unbiased=False), scaled so that
    1e30-sized float32 weights do not overflow when squared (numerics.py)."""
    centred = numerics.centred(w, (1, 2, 3))
    return centred / numerics.std(centred, (1, 2, 3), eps)


def std_conv2d(x, w, b=None, *, stride=1, padding=0, eps=1e-10):
    """conv2d (this module's, by im2col) with a standardised kernel; autograd differentiates
    through the standardisation. The oracle is timm's F.batch_norm formulation with F.conv2d."""
    from shared.concepts import std_conv2d as spec
    spec.validate(x, w, b, stride=stride, padding=padding, eps=eps)
    return conv2d(x, weight_standardize(w, eps=eps), b, stride=stride, padding=padding)
