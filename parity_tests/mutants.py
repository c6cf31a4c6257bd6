"""Deliberately broken implementations. Each is one plausible slip; the parity engine must
flag every one of them (test_mutants.py). Read them to see what the checks catch."""
import numpy as np


def softmax_without_max_shift(x, *, axis=-1):
    # forgets softmax(x) = softmax(x - max): exp(1010) overflows to inf, inf / inf = nan
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def cross_entropy_divided_by_classes(y, t, *, from_logits=False, axis=-1, reduction="mean", log_guard=1e-7):
    # divides the summed loss by the number of classes instead of the batch size
    from numpy_impl.losses import cross_entropy
    total = cross_entropy(y, t, from_logits=from_logits, axis=axis, reduction="sum", log_guard=log_guard)
    return total / y.shape[axis] if reduction == "mean" else total


def relu_backward_inverted_mask(dy, x):
    # the mask selects the wrong side: gradient flows where x <= 0 instead of x > 0
    dx = dy.copy()
    dx[x > 0] = 0
    return dx
