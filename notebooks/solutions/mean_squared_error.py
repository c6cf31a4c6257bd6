"""A worked answer to exercise "mean_squared_error" of notebook 02: `rosetta check mean_squared_error notebooks/solutions/mean_squared_error.py` passes every check."""
import numpy as np


def mean_squared_error(y, t):
    return 0.5 * np.sum((y - t) ** 2)


def mean_squared_error_backward(dy, y, t):
    return dy * (y - t)
