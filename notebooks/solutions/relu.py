"""A worked answer to exercise "relu" of notebook 01: `rosetta check relu notebooks/solutions/relu.py` passes every check."""
import numpy as np


def relu(x):
    return np.maximum(x, 0)


def relu_backward(dy, x):
    dx = dy.copy()
    dx[x <= 0] = 0
    return dx
