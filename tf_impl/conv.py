"""Convolution by im2col in TensorFlow, from tf ops, mirroring numpy_impl.conv; GradientTape
gives the backward. tf.nn.conv2d, conv2d_transpose, depthwise_conv2d and the Keras layers
are the oracles these are checked against, so they are not used here.

tf.image.extract_patches is TF's sliding-window view: every window of an NHWC image,
in (kh, kw, C) order. col2im cannot add into slices in place as numpy_impl does (TF
tensors are immutable); it sends every column entry to the pixel it came from with
unsorted_segment_sum, whose gradient is a gather, so the tape's backward is im2col.
"""
import numpy as np
import tensorflow as tf

from shared import layouts
from shared.concepts import _conv
from tf_impl import numerics


def _padded_nhwc(x, pads, value=0.0):
    return tf.pad(layouts.nchw_to_nhwc(x), _conv.tf_pads(pads), constant_values=value)


def _im2col(x, g, *, channels_last=False, pad_value=0.0):
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = g.kernel, g.stride, g.dilation, g.out
    # padded here, not by extract_patches: its 'SAME' cannot do torch's symmetric
    # padding, nor pad with -inf for max pooling
    patches = tf.image.extract_patches(_padded_nhwc(x, g.pads, pad_value), sizes=[1, kh, kw, 1],
                                       strides=[1, sh, sw, 1], rates=[1, dh, dw, 1], padding="VALID")
    if not channels_last:  # (kh, kw, C) -> the book's (C, kh, kw)
        patches = tf.transpose(tf.reshape(patches, (n, oh, ow, kh * kw, c)), (0, 1, 2, 4, 3))
    return tf.reshape(patches, (n * oh * ow, -1))


def im2col(x, kernel, *, stride=1, padding=0, dilation=1, pad_value=0.0, channels_last=False):
    """Row n*OH*OW + i*OW + j holds the window under output position (i, j) of image n,
    in (C, kh, kw) order, or (kh, kw, C) with channels_last. pad_value: -inf for max pooling."""
    g = _conv.validate_im2col("im2col", x, kernel, stride=stride, padding=padding, dilation=dilation)
    return _im2col(x, g, channels_last=channels_last, pad_value=pad_value)


def _pixel_ids(x_shape, g):
    """(N, OH*OW*kh*kw): for every column entry, in channels-last order, the index of the
    pixel it was read from in the flattened (N, H, W) image, or -1 where it read padding
    (unsorted_segment_sum drops those). Pure geometry, so NumPy builds it."""
    n, _, h, w = x_shape
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = g.kernel, g.stride, g.dilation, g.out
    top, _, left, _ = g.pads
    rows = (np.arange(oh)[:, None] * sh + np.arange(kh) * dh - top)[:, None, :, None]   # (OH, 1, kh, 1)
    cols = (np.arange(ow)[:, None] * sw + np.arange(kw) * dw - left)[None, :, None, :]  # (1, OW, 1, kw)
    inside = ((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)).reshape(-1)
    pixel = (rows * w + cols).reshape(-1)
    return np.where(inside, np.arange(n)[:, None] * (h * w) + pixel, -1)


def _col2im(col, x_shape, g, *, channels_last=False):
    n, c, h, w = x_shape
    (kh, kw), (oh, ow) = g.kernel, g.out
    if not channels_last:  # the book's (C, kh, kw) -> (kh, kw, C)
        col = tf.transpose(tf.reshape(col, (n, oh, ow, c, kh * kw)), (0, 1, 2, 4, 3))
    # a pixel read by several windows (S < k) receives the sum of their entries
    pixels = tf.math.unsorted_segment_sum(tf.reshape(col, (n, -1, c)), _pixel_ids(x_shape, g),
                                          num_segments=n * h * w)
    return layouts.nhwc_to_nchw(tf.reshape(pixels, (n, h, w, c)))


def col2im(col, x_shape, kernel, *, stride=1, padding=0, dilation=1, channels_last=False):
    """Back from a column matrix to an image of shape x_shape, summing overlaps."""
    g = _conv.validate_col2im("col2im", col, x_shape, kernel, stride=stride, padding=padding, dilation=dilation)
    return _col2im(col, tuple(x_shape), g, channels_last=channels_last)


# ---- conv2d -------------------------------------------------------------------------

def _group_columns(col, groups, taps):
    """(N*OH*OW, kh*kw*C) channels-last columns -> (G, N*OH*OW, kh*kw*C/G): each group
    sees only its own channels."""
    rows = col.shape[0]
    return tf.reshape(tf.transpose(tf.reshape(col, (rows, taps, groups, -1)), (2, 0, 1, 3)), (groups, rows, -1))


def _group_filters(w, groups):
    """OIHW [O, C/G, kh, kw] -> (G, kh*kw*C/G, O/G), matching the channels-last columns."""
    o = w.shape[0]
    hwio = layouts.oihw_to_hwio(w)  # (kh, kw, C/G, O): rows in the columns' (kh, kw, C) order
    return tf.transpose(tf.reshape(hwio, (-1, groups, o // groups)), (1, 0, 2))


def conv2d(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    g = _conv.validate_conv2d("conv2d", x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    n, o, (kh, kw), (oh, ow) = x.shape[0], w.shape[0], g.kernel, g.out
    col = _group_columns(_im2col(x, g, channels_last=True), groups, kh * kw)
    out = tf.matmul(col, _group_filters(w, groups))  # (G, N*OH*OW, O/G): one matmul per group
    out = tf.reshape(tf.transpose(tf.reshape(out, (groups, n, oh, ow, -1)), (1, 2, 3, 0, 4)), (n, oh, ow, o))
    out = layouts.nhwc_to_nchw(out)
    return out if b is None else out + tf.reshape(b, (1, -1, 1, 1))


# ---- transposed convolution -----------------------------------------------------------

def conv_transpose2d(x, w, b=None, *, stride=1, padding=0, output_padding=0):
    """y = col2im(x_rows @ W.reshape(I, O*kh*kw)), then cropped by the padding: the
    adjoint of conv2d, so the tape's backward of it is a conv2d."""
    g = _conv.validate_conv_transpose2d("conv_transpose2d", x, w, b, stride=stride, padding=padding,
                                        output_padding=output_padding)
    n, i, h, width = x.shape
    full, inner = _conv.transpose_geometry(x, g)
    x_rows = tf.reshape(layouts.nchw_to_nhwc(x), (n * h * width, i))
    col = tf.matmul(x_rows, tf.reshape(w, (i, -1)))  # (N*H*W, O*kh*kw): the book's column order (O, kh, kw)
    top, _, left, _ = g.pads
    y = _col2im(col, (n, w.shape[1], *full), inner)[:, :, top:top + g.out[0], left:left + g.out[1]]
    return y if b is None else y + tf.reshape(b, (1, -1, 1, 1))


# ---- depthwise-separable convolution (MobileNet) --------------------------------------

def separable_conv2d(x, w_depth, w_point, b=None, *, stride=1, padding=0, dilation=1):
    """Depthwise conv (groups = C) then a pointwise 1x1 conv, one bias at the end, as
    keras.layers.SeparableConv2D."""
    _conv.validate_separable("separable_conv2d", x, w_depth, w_point, b)
    h = conv2d(x, w_depth, stride=stride, padding=padding, dilation=dilation, groups=x.shape[1])
    return conv2d(h, w_point, b)


# ---- weight-standardised convolution (BiT's StdConv2d) --------------------------------

def weight_standardize(w, *, eps=1e-10):
    """OIHW in, OIHW out; standardised as big_transfer bit_tf2/models.py does, on the HWIO
    kernel with tf.nn.moments over its [0, 1, 2] axes (kh, kw, I): one mean and biased
    variance per output filter."""
    kernel = layouts.oihw_to_hwio(w)
    centred = numerics.centred(kernel, [0, 1, 2])
    # tf.nn.moments' biased variance, scaled against overflow at 1e30 in float32 (numerics.py)
    return layouts.hwio_to_oihw(centred / numerics.std(centred, [0, 1, 2], eps))


def std_conv2d(x, w, b=None, *, stride=1, padding=0, eps=1e-10):
    """conv2d (this module's, by im2col) with a standardised kernel; the tape differentiates
    through the standardisation. The oracle is bit_tf2's formulation with tf.nn.conv2d."""
    from shared.concepts import std_conv2d as spec
    spec.validate(x, w, b, stride=stride, padding=padding, eps=eps)
    return conv2d(x, weight_standardize(w, eps=eps), b, stride=stride, padding=padding)
