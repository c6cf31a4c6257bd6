"""A worked answer to exercise "avg_pool2d" of notebook 08: `rosetta check avg_pool2d notebooks/solutions/avg_pool2d.py` passes every check."""
import numpy as np

from numpy_impl.conv import im2col
from numpy_impl.pooling import avg_pool2d_backward
from shared.concepts import _conv


def avg_pool2d(x, kernel, *, stride=None, padding=0, count_include_pad=True):
    g = _conv.validate_pool("avg_pool2d", x, kernel, stride=stride, padding=padding)
    n, c, h, w = x.shape
    windows = im2col(x.reshape(n * c, 1, h, w), g.kernel, stride=g.stride, padding=g.pads)
    if count_include_pad:
        counts = g.kernel[0] * g.kernel[1]
    else:
        ones = np.ones((1, 1, h, w), dtype=x.dtype)
        counts = np.tile(im2col(ones, g.kernel, stride=g.stride, padding=g.pads).sum(axis=1), n * c)
    return (windows.sum(axis=1) / counts).reshape(n, c, *g.out)
