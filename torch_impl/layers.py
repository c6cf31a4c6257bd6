"""Layers of the book's multi-layer net in PyTorch, from torch ops; autograd gives the
backward. F.linear, F.batch_norm and the nn layers are the oracles these are checked against."""
import torch

from shared.concepts import affine as affine_spec
from shared.concepts import batch_norm as bn_spec
from shared.concepts import batch_norm_running_stats as stats_spec
from shared.concepts import dropout as dropout_spec
from shared.concepts import group_norm as gn_spec
from shared.concepts.batch_norm import BOOK_EPS
from torch_impl import numerics


def affine(x, W, b=None):
    affine_spec.validate(x, W, b)
    y = x.flatten(1) @ W  # W is canonical [in, out]; nn.Linear would store W.T
    return y if b is None else y + b


def _channel_view(a, ndim):
    return a.reshape((1, -1) + (1,) * (ndim - 2))


def batch_norm(x, gamma, beta, running_mean, running_var, *, training, eps=BOOK_EPS):
    axes = bn_spec.validate(x, gamma, beta, running_mean, running_var, training=training, eps=eps)
    if training:
        centred = numerics.centred(x, axes)
        # sqrt(var + eps), the batch's own (biased) variance, scaled against overflow (numerics.py)
        x_hat = centred / numerics.std(centred, axes, eps)
    else:
        mean, var = _channel_view(running_mean, x.dim()), _channel_view(running_var, x.dim())
        x_hat = (x - mean) / torch.sqrt(var + eps)
    return _channel_view(gamma, x.dim()) * x_hat + _channel_view(beta, x.dim())


def batch_norm_running_stats(x, running_mean, running_var, *, momentum=0.9, unbiased=False):
    axes = stats_spec.validate(x, running_mean, running_var, momentum=momentum, unbiased=unbiased)
    with torch.no_grad():  # running statistics are bookkeeping, not part of the graph
        mean = x.mean(dim=axes)
        var = x.var(dim=axes, unbiased=unbiased)
        return (momentum * running_mean + (1 - momentum) * mean,
                momentum * running_var + (1 - momentum) * var)


def dropout(x, mask, *, p):
    dropout_spec.validate(x, mask, p=p)
    return x * mask / (1 - p)


def group_norm(x, gamma, beta, *, groups, eps=gn_spec.DEFAULT_EPS):
    n, c, h, w = gn_spec.validate(x, gamma, beta, groups=groups, eps=eps)
    xg = x.reshape(n, groups, c // groups, h, w)  # group g: channels g C/G .. (g+1) C/G - 1
    axes = (2, 3, 4)  # per sample and group: over its channels, height and width
    centred = numerics.centred(xg, axes)
    x_hat = (centred / numerics.std(centred, axes, eps)).reshape(n, c, h, w)  # the group's own variance
    return _channel_view(gamma, 4) * x_hat + _channel_view(beta, 4)
