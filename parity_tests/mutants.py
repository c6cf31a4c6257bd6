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


def adam_without_bias_correction(param, grad, state, *, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8,
                                 weight_decay=0.0):
    # forgets to divide m and v by (1 - beta^t): early steps are ~sqrt(1 - beta2)/(1 - beta1)
    # = 0.32x too small, because m and v start at 0
    grad = grad + weight_decay * param
    m = beta1 * state["m"] + (1 - beta1) * grad
    v = beta2 * state["v"] + (1 - beta2) * grad * grad
    return param - lr * m / (np.sqrt(v) + eps), {"m": m, "v": v, "t": state["t"] + 1}


def nesterov_as_plain_momentum(param, grad, state, *, lr=0.01, momentum=0.9):
    # steps along the velocity alone: no look-ahead, so this is the plain Momentum method
    v = momentum * state["v"] - lr * grad
    return param + v, {"v": v}


def batch_norm_with_running_stats_in_training(x, gamma, beta, running_mean, running_var, *, training,
                                              eps=10e-7):
    # normalises with the running statistics even in training mode (as if .eval() had
    # been left on): the batch is no longer normalised and the statistics' gradient vanishes
    from numpy_impl.layers import batch_norm
    return batch_norm(x, gamma, beta, running_mean, running_var, training=False, eps=eps)
