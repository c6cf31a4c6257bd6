"""A worked answer to exercise "embedding" of notebook 09: `rosetta check embedding notebooks/solutions/embedding.py` passes every check."""
import numpy as np

from numpy_impl.transformer import embedding


def embedding_backward(dy, ids, W, *, padding_idx=None):
    dW = np.zeros_like(W)
    np.add.at(dW, ids, dy)
    if padding_idx is not None:
        dW[padding_idx] = 0.0
    return dW
