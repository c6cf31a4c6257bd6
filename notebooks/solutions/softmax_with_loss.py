"""A worked answer to exercise "softmax_with_loss" of notebook 02: `rosetta check softmax_with_loss notebooks/solutions/softmax_with_loss.py` passes every check."""
import numpy as np


def _log_softmax(x):
    z = x - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _labels(t, x):
    return t.argmax(axis=-1) if t.ndim == x.ndim else t


def softmax_with_loss(x, t):
    n = x.shape[0]
    return -np.mean(_log_softmax(x)[np.arange(n), _labels(t, x)])


def softmax_with_loss_backward(dy, x, t):
    n = x.shape[0]
    grad = np.exp(_log_softmax(x))
    grad[np.arange(n), _labels(t, x)] -= 1
    return dy * grad / n
