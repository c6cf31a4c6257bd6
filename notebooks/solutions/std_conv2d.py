"""A worked answer to exercise "std_conv2d" of notebook 08: `rosetta check std_conv2d notebooks/solutions/std_conv2d.py` passes every check."""
import numpy as np

from numpy_impl.conv import conv2d
from numpy_impl.conv import std_conv2d_backward


def std_conv2d(x, w, b=None, *, stride=1, padding=0, eps=1e-10):
    mean = w.mean(axis=(1, 2, 3), keepdims=True)
    var = w.var(axis=(1, 2, 3), keepdims=True)
    return conv2d(x, (w - mean) / np.sqrt(var + eps), b, stride=stride, padding=padding)
