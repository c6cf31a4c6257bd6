"""Layers of the book's multi-layer net: Affine 全結合, Batch Normalization, Dropout.

Functional versions of the book's layer classes: what the class kept in `self` (the
input, the batch statistics, the mask) comes in as arguments, so forward and backward
can be read, and tested, one at a time.
"""
import numpy as np

from numpy_impl import numerics
from shared.concepts import affine as affine_spec
from shared.concepts import batch_norm as bn_spec
from shared.concepts import batch_norm_running_stats as stats_spec
from shared.concepts import dropout as dropout_spec
from shared.concepts import group_norm as gn_spec
from shared.concepts.batch_norm import BOOK_EPS


def affine(x, W, b=None):
    affine_spec.validate(x, W, b)
    # the book's Affine flattens (N, C, H, W) images to (N, C*H*W) rows
    y = x.reshape(x.shape[0], -1) @ W
    return y if b is None else y + b


def affine_backward(dy, x, W, b=None):
    x2 = x.reshape(x.shape[0], -1)
    dx = (dy @ W.T).reshape(x.shape)
    dW = x2.T @ dy
    db = None if b is None else dy.sum(axis=0)
    return dx, dW, db


def _channel_view(a, ndim):
    """A per-channel vector (C,) shaped to broadcast against (N, C) or (N, C, H, W)."""
    return a.reshape((1, -1) + (1,) * (ndim - 2))


def _normalise(x, running_mean, running_var, training, eps, axes):
    """x_hat = (x - mean) / std with the batch's statistics (training) or the running
    ones (inference); also returns std."""
    if training:
        centred = numerics.centred(x, axes)
        # sqrt(var + eps) with the batch's own (biased) variance, scaled so that 1e30-sized
        # float32 values do not overflow when squared (numerics.py)
        std = numerics.std(centred, axes, eps)
        return centred / std, std
    mean, var = _channel_view(running_mean, x.ndim), _channel_view(running_var, x.ndim)
    std = np.sqrt(var + eps)
    return (x - mean) / std, std


def batch_norm(x, gamma, beta, running_mean, running_var, *, training, eps=BOOK_EPS):
    axes = bn_spec.validate(x, gamma, beta, running_mean, running_var, training=training, eps=eps)
    x_hat, _ = _normalise(x, running_mean, running_var, training, eps, axes)
    return _channel_view(gamma, x.ndim) * x_hat + _channel_view(beta, x.ndim)


def batch_norm_backward(dy, x, gamma, beta, running_mean, running_var, *, training, eps=BOOK_EPS):
    axes = bn_spec.validate(x, gamma, beta, running_mean, running_var, training=training, eps=eps)
    x_hat, std = _normalise(x, running_mean, running_var, training, eps, axes)
    dgamma = (dy * x_hat).sum(axis=axes)
    dbeta = dy.sum(axis=axes)
    dx_hat = dy * _channel_view(gamma, x.ndim)
    if not training:  # the statistics are constants: a per-channel scale
        return dx_hat / std, dgamma, dbeta
    # the batch's mean and variance depend on every x: the book's backward, in the form
    # dx = (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)) / std
    dx = (dx_hat - dx_hat.mean(axis=axes, keepdims=True)
          - x_hat * (dx_hat * x_hat).mean(axis=axes, keepdims=True)) / std
    return dx, dgamma, dbeta


def batch_norm_running_stats(x, running_mean, running_var, *, momentum=0.9, unbiased=False):
    axes = stats_spec.validate(x, running_mean, running_var, momentum=momentum, unbiased=unbiased)
    mean = x.mean(axis=axes)
    var = x.var(axis=axes, ddof=1 if unbiased else 0)
    # momentum is the weight of the OLD statistic, as in the book and Keras (torch's
    # momentum=0.1 is the weight of the new one: the same average)
    return (momentum * running_mean + (1 - momentum) * mean,
            momentum * running_var + (1 - momentum) * var)


def dropout(x, mask, *, p):
    dropout_spec.validate(x, mask, p=p)
    # inverted dropout: kept units are scaled by 1/(1-p) during training, so inference
    # needs no change (the book instead multiplies by 1-p at inference)
    return x * mask / (1 - p)


def dropout_backward(dy, x, mask, *, p):
    return dy * mask / (1 - p)


def _group_view(a, groups):
    """(N, C, H, W) -> (N, G, C/G, H, W): group g holds channels g C/G .. (g+1) C/G - 1."""
    n, c, h, w = a.shape
    return a.reshape(n, groups, c // groups, h, w)


# the statistics of one sample's group: over its channels, height and width
_GROUP_AXES = (2, 3, 4)


def _group_normalise(x, groups, eps):
    """x_hat = (x - mean) / std per sample and group, in the grouped view, and std."""
    xg = _group_view(x, groups)
    centred = numerics.centred(xg, _GROUP_AXES)
    std = numerics.std(centred, _GROUP_AXES, eps)  # the group's own (biased) variance, scaled
    return centred / std, std


def group_norm(x, gamma, beta, *, groups, eps=gn_spec.DEFAULT_EPS):
    gn_spec.validate(x, gamma, beta, groups=groups, eps=eps)
    x_hat, _ = _group_normalise(x, groups, eps)
    return _channel_view(gamma, 4) * x_hat.reshape(x.shape) + _channel_view(beta, 4)


def group_norm_backward(dy, x, gamma, beta, *, groups, eps=gn_spec.DEFAULT_EPS):
    gn_spec.validate(x, gamma, beta, groups=groups, eps=eps)
    x_hat, std = _group_normalise(x, groups, eps)
    # gamma and beta act per channel, shared by every sample and pixel
    dgamma = (dy * x_hat.reshape(x.shape)).sum(axis=(0, 2, 3))
    dbeta = dy.sum(axis=(0, 2, 3))
    # each group's mean and variance depend on every x of the group: batch norm's backward
    # with the group in place of the batch,
    # dx = (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)) / std
    dx_hat = _group_view(dy * _channel_view(gamma, 4), groups)
    dx = (dx_hat - dx_hat.mean(axis=_GROUP_AXES, keepdims=True)
          - x_hat * (dx_hat * x_hat).mean(axis=_GROUP_AXES, keepdims=True)) / std
    return dx.reshape(x.shape), dgamma, dbeta
