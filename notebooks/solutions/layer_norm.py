"""A worked answer to exercise "layer_norm" of notebook 09: `rosetta check layer_norm notebooks/solutions/layer_norm.py` passes every check."""
import numpy as np

from numpy_impl.transformer import layer_norm_backward


def layer_norm(x, gamma, beta, *, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta
