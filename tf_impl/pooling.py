"""Pooling with im2col in TensorFlow, from tf ops, mirroring numpy_impl.pooling; GradientTape
gives the backward. tf.nn.max_pool2d, tf.nn.avg_pool2d and the Keras layers are the
oracles these are checked against.

Max pooling pads with -inf, so that padding never wins a max.
"""
import math

import tensorflow as tf

from shared import layouts
from shared.concepts import _conv
from tf_impl.conv import _im2col


def _windows(x, g, pad_value=0.0):
    """(N, OH, OW, kh*kw, C): the values each window holds, channel by channel
    (extract_patches' own channels-last order, so no transpose is needed)."""
    n, c = x.shape[:2]
    return tf.reshape(_im2col(x, g, channels_last=True, pad_value=pad_value), (n, *g.out, -1, c))


def max_pool2d(x, kernel, *, stride=None, padding=0):
    g = _conv.validate_pool("max_pool2d", x, kernel, stride=stride, padding=padding)
    windows = _windows(x, g, -math.inf)
    # the gradient goes to the window's FIRST maximum, as the book's argmax mask and torch:
    # reduce_max's own gradient would split it between tied values, and tf.argmax does not
    # promise which tie it returns. cumsum marks the first of the maxima.
    is_max = tf.equal(windows, tf.reduce_max(windows, axis=3, keepdims=True))
    first = tf.logical_and(is_max, tf.equal(tf.cumsum(tf.cast(is_max, tf.int32), axis=3), 1))
    return layouts.nhwc_to_nchw(tf.reduce_sum(tf.where(first, windows, tf.zeros_like(windows)), axis=3))


def _counts(x, g, count_include_pad):
    """How many values each window averages: kh*kw, or only the real pixels in it,
    as (1, OH, OW, 1) to broadcast over images and channels."""
    if count_include_pad:
        return g.kernel[0] * g.kernel[1]
    ones = tf.ones((1, 1, *x.shape[2:]), dtype=x.dtype)
    return tf.reduce_sum(_windows(ones, g), axis=3)


def avg_pool2d(x, kernel, *, stride=None, padding=0, count_include_pad=True):
    g = _conv.validate_pool("avg_pool2d", x, kernel, stride=stride, padding=padding,
                            count_include_pad=count_include_pad)
    mean = tf.reduce_sum(_windows(x, g), axis=3) / _counts(x, g, count_include_pad)
    return layouts.nhwc_to_nchw(mean)
