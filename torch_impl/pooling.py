"""Pooling with im2col in PyTorch, from torch ops, mirroring numpy_impl.pooling; autograd
gives the backward. F.max_pool2d and F.avg_pool2d are the oracles these are checked against.

Max pooling pads with -inf, so that padding never wins a max.
"""
import math

import torch

from shared import layouts
from shared.concepts import _conv
from torch_impl.conv import _im2col


def _windows(x, g, pad_value=0.0):
    """(N, OH, OW, C, kh*kw): the values each window holds, channel by channel."""
    n, c = x.shape[:2]
    return _im2col(x, g, pad_value=pad_value).reshape(n, *g.out, c, -1)


def max_pool2d(x, kernel, *, stride=None, padding=0):
    g = _conv.validate_pool("max_pool2d", x, kernel, stride=stride, padding=padding)
    # max(dim) sends the gradient to the one value it picked, as the book's argmax mask;
    # amax would split it between tied values
    return layouts.nhwc_to_nchw(_windows(x, g, -math.inf).max(dim=-1).values)


def _counts(x, g, count_include_pad):
    """How many values each window averages: kh*kw, or only the real pixels in it,
    as (1, OH, OW, 1) to broadcast over images and channels."""
    if count_include_pad:
        return g.kernel[0] * g.kernel[1]
    ones = torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
    return _windows(ones, g).sum(dim=-1)


def avg_pool2d(x, kernel, *, stride=None, padding=0, count_include_pad=True):
    g = _conv.validate_pool("avg_pool2d", x, kernel, stride=stride, padding=padding,
                            count_include_pad=count_include_pad)
    mean = _windows(x, g).sum(dim=-1) / _counts(x, g, count_include_pad)
    return layouts.nhwc_to_nchw(mean)
