"""A worked answer to exercise "group_norm" of notebook 08: `rosetta check group_norm notebooks/solutions/group_norm.py` passes every check."""
import numpy as np

from numpy_impl.layers import group_norm_backward


def group_norm(x, gamma, beta, *, groups, eps=1e-5):
    n, c = x.shape[:2]
    g = x.reshape(n, groups, -1)
    x_hat = ((g - g.mean(axis=-1, keepdims=True)) / np.sqrt(g.var(axis=-1, keepdims=True) + eps)).reshape(x.shape)
    return gamma.reshape(1, c, 1, 1) * x_hat + beta.reshape(1, c, 1, 1)
