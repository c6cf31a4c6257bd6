"""A worked answer to exercise "batch_norm" of notebook 07: `rosetta check batch_norm notebooks/solutions/batch_norm.py` passes every check."""
import numpy as np

from numpy_impl.layers import batch_norm_backward


def batch_norm(x, gamma, beta, running_mean, running_var, *, training, eps=1e-6):
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean, var = (x.mean(axis=axes), x.var(axis=axes)) if training else (running_mean, running_var)
    x_hat = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return gamma.reshape(shape) * x_hat + beta.reshape(shape)
