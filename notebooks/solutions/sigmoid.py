"""A worked answer to exercise "sigmoid" of notebook 01: `rosetta check sigmoid notebooks/solutions/sigmoid.py` passes every check."""
import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_backward(dy, x):
    y = sigmoid(x)
    return dy * y * (1 - y)
