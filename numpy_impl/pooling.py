"""Pooling プーリング層 with im2col, as in ゼロから作る 7.4.4: unroll every window into a
row, take its max (or mean), and send the gradient back with col2im.

Max pooling pads with -inf, so that padding never wins a max (an explicit zero pad
would: porting case max-pool-zero-padding). Average pooling either counts the padded
zeros in the mean (torch's default, count_include_pad=True) or divides by the number of
real pixels in each window (Keras 'same', TF's avg_pool).
"""
import numpy as np

from numpy_impl.conv import _col2im, _im2col
from shared.concepts import _conv


def _rows(col, kernel):
    """(N*OH*OW, C*kh*kw) columns in the book's (C, kh, kw) order -> one row per window
    and channel: (N*OH*OW*C, kh*kw)."""
    return col.reshape(-1, kernel[0] * kernel[1])


def _to_image(values, n, g):
    """(N*OH*OW*C,) -> (N, C, OH, OW)."""
    return np.ascontiguousarray(values.reshape(n, *g.out, -1).transpose(0, 3, 1, 2))


def _from_image(dy):
    """(N, C, OH, OW) -> (N*OH*OW*C, 1), the order of _rows."""
    return dy.transpose(0, 2, 3, 1).reshape(-1, 1)


def max_pool2d(x, kernel, *, stride=None, padding=0):
    g = _conv.validate_pool("max_pool2d", x, kernel, stride=stride, padding=padding)
    windows = _rows(_im2col(x, g, pad_value=-np.inf), g.kernel)
    return _to_image(windows.max(axis=1), x.shape[0], g)


def max_pool2d_backward(dy, x, kernel, *, stride=None, padding=0):
    g = _conv.validate_pool("max_pool2d", x, kernel, stride=stride, padding=padding)
    windows = _rows(_im2col(x, g, pad_value=-np.inf), g.kernel)
    # the gradient goes to the max of each window only (the first one on ties, as torch)
    winner = windows.argmax(axis=1)
    dcol = np.zeros_like(windows)
    dcol[np.arange(len(winner)), winner] = _from_image(dy)[:, 0]
    return _col2im(dcol.reshape(-1, x.shape[1] * g.kernel[0] * g.kernel[1]),
                   x.shape, g)


def _counts(x, g, count_include_pad):
    """How many values each window averages: kh*kw, or only the real pixels in it."""
    if count_include_pad:
        return g.kernel[0] * g.kernel[1]
    ones = np.ones((1, 1, *x.shape[2:]), dtype=x.dtype)
    real = _rows(_im2col(ones, g), g.kernel).sum(axis=1)  # (OH*OW,), the same for every n, c
    return np.tile(np.repeat(real, x.shape[1]), x.shape[0])[:, None]


def avg_pool2d(x, kernel, *, stride=None, padding=0, count_include_pad=True):
    g = _conv.validate_pool("avg_pool2d", x, kernel, stride=stride, padding=padding,
                            count_include_pad=count_include_pad)
    windows = _rows(_im2col(x, g), g.kernel)
    mean = windows.sum(axis=1, keepdims=True) / _counts(x, g, count_include_pad)
    return _to_image(mean, x.shape[0], g)


def avg_pool2d_backward(dy, x, kernel, *, stride=None, padding=0, count_include_pad=True):
    g = _conv.validate_pool("avg_pool2d", x, kernel, stride=stride, padding=padding,
                            count_include_pad=count_include_pad)
    # every value of a window gets dy / count; the padded ones are cut off by col2im
    dwindow = _from_image(dy) / _counts(x, g, count_include_pad)
    dcol = np.broadcast_to(dwindow, (dwindow.shape[0], g.kernel[0] * g.kernel[1]))
    return _col2im(dcol.reshape(-1, x.shape[1] * g.kernel[0] * g.kernel[1]), x.shape, g)
