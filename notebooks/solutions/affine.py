"""A worked answer to exercise "affine" of notebook 03: `rosetta check affine notebooks/solutions/affine.py` passes every check."""
import numpy as np


def affine(x, W, b=None):
    y = x.reshape(x.shape[0], -1) @ W
    return y if b is None else y + b


def affine_backward(dy, x, W, b=None):
    dx = (dy @ W.T).reshape(x.shape)
    dW = x.reshape(x.shape[0], -1).T @ dy
    return dx, dW, None if b is None else dy.sum(axis=0)
