"""A worked answer to exercise "tanh" of notebook 07: `rosetta check tanh notebooks/solutions/tanh.py` passes every check."""
import numpy as np


def tanh(x):
    return np.tanh(x)


def tanh_backward(dy, x):
    return dy * (1 - np.tanh(x) ** 2)
