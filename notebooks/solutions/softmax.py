"""A worked answer to exercise "softmax" of notebook 02: `rosetta check softmax notebooks/solutions/softmax.py` passes every check."""
import numpy as np


def softmax(x, *, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_backward(dy, x, *, axis=-1):
    y = softmax(x, axis=axis)
    return y * (dy - np.sum(dy * y, axis=axis, keepdims=True))
