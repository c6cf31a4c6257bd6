"""Layers of the book's multi-layer net in TensorFlow, from tf ops; GradientTape gives the
backward. tf.nn.batch_normalization and the Keras layers are the oracles these are checked against."""
import tensorflow as tf

from shared import layouts
from shared.concepts import affine as affine_spec
from shared.concepts import batch_norm as bn_spec
from shared.concepts import batch_norm_running_stats as stats_spec
from shared.concepts import dropout as dropout_spec
from shared.concepts import group_norm as gn_spec
from shared.concepts.batch_norm import BOOK_EPS
from tf_impl import numerics


def affine(x, W, b=None):
    affine_spec.validate(x, W, b)
    y = tf.matmul(tf.reshape(x, (x.shape[0], -1)), W)  # Keras' Dense kernel is W as it is
    return y if b is None else y + b


def _channel_view(a, ndim):
    return tf.reshape(a, (1, -1) + (1,) * (ndim - 2))


def batch_norm(x, gamma, beta, running_mean, running_var, *, training, eps=BOOK_EPS):
    axes = bn_spec.validate(x, gamma, beta, running_mean, running_var, training=training, eps=eps)
    ndim = len(x.shape)
    if training:
        centred = numerics.centred(x, axes)
        # sqrt(var + eps), the batch's own (biased) variance, scaled against overflow (numerics.py)
        x_hat = centred / numerics.std(centred, axes, eps)
    else:
        mean, var = _channel_view(running_mean, ndim), _channel_view(running_var, ndim)
        x_hat = (x - mean) / tf.sqrt(var + eps)
    return _channel_view(gamma, ndim) * x_hat + _channel_view(beta, ndim)


def batch_norm_running_stats(x, running_mean, running_var, *, momentum=0.9, unbiased=False):
    axes = stats_spec.validate(x, running_mean, running_var, momentum=momentum, unbiased=unbiased)
    x = tf.stop_gradient(x)  # running statistics are bookkeeping, not part of the graph
    mean = tf.reduce_mean(x, axis=axes)
    var = tf.reduce_mean(tf.square(x - _channel_view(mean, len(x.shape))), axis=axes)
    if unbiased:
        count = tf.cast(tf.size(x) // x.shape[1], x.dtype)
        var = var * count / (count - 1)
    return (momentum * running_mean + (1 - momentum) * mean,
            momentum * running_var + (1 - momentum) * var)


def dropout(x, mask, *, p):
    dropout_spec.validate(x, mask, p=p)
    return x * mask / (1 - p)


def group_norm(x, gamma, beta, *, groups, eps=gn_spec.DEFAULT_EPS):
    n, c, h, w = gn_spec.validate(x, gamma, beta, groups=groups, eps=eps)
    # in TF's own layout, as Keras' GroupNormalization: channels last, so a group is a
    # block of C/G consecutive channels of the last axis (the same channels as in NCHW)
    xg = tf.reshape(layouts.nchw_to_nhwc(x), (n, h, w, groups, c // groups))
    axes = (1, 2, 4)  # per sample and group: over height, width and its channels
    centred = numerics.centred(xg, axes)
    x_hat = tf.reshape(centred / numerics.std(centred, axes, eps), (n, h, w, c))  # the group's own variance
    return layouts.nhwc_to_nchw(gamma * x_hat + beta)  # gamma, beta [C] broadcast over the last axis
