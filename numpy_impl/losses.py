"""Loss functions 損失関数 with hand-written backward passes.

cross_entropy 交差エントロピー誤差 and mean_squared_error 2乗和誤差 follow the book;
softmax_with_loss is the book's fused Softmax-with-Loss layer whose backward is the
famous (y - t) / N.
"""
import numpy as np

from numpy_impl.activations import log_softmax, sigmoid, softmax
from shared.concepts import binary_cross_entropy as bce_spec
from shared.concepts import cross_entropy as ce_spec
from shared.concepts import mean_squared_error as mse_spec
from shared.concepts import softmax_with_loss as swl_spec
from shared.concepts.cross_entropy import BOOK_LOG_GUARD


def one_hot(labels, num_classes, axis, dtype):
    """Integer labels -> one-hot vectors along `axis`: [2] -> [[0, 0, 1]] for 3 classes."""
    return np.moveaxis(np.eye(num_classes, dtype=dtype)[labels], -1, axis)


def _targets(y, t, kind, axis, label_smoothing=0.0):
    """Targets as probabilities on y's class axis, whichever form they came in; label smoothing
    moves `label_smoothing` of each target's mass to the uniform distribution over the K classes."""
    t = one_hot(t, y.shape[axis], axis, y.dtype) if kind == "labels" else t.astype(y.dtype)
    if label_smoothing:
        t = (1 - label_smoothing) * t + label_smoothing / y.shape[axis]
    return t


def _reduce(per_example, reduction):
    if reduction == "mean":
        return per_example.mean()
    if reduction == "sum":
        return per_example.sum()
    return per_example


def _unreduce(dy, per_example_shape, reduction, dtype):
    """The gradient of the reduction: each example gets dy (sum), dy / N (mean)."""
    if reduction == "none":
        return dy
    count = np.prod(per_example_shape) if reduction == "mean" else 1
    return np.full(per_example_shape, dy / count, dtype=dtype)


def cross_entropy(y, t, *, from_logits=False, axis=-1, reduction="mean", log_guard=BOOK_LOG_GUARD,
                  label_smoothing=0.0):
    axis, kind = ce_spec.validate(y, t, from_logits=from_logits, axis=axis, reduction=reduction, log_guard=log_guard,
                                  label_smoothing=label_smoothing)
    t = _targets(y, t, kind, axis, label_smoothing)
    # from probabilities: the book's log(y + 1e-7) keeps log(0) = -inf out of the sum
    log_p = log_softmax(y, axis=axis) if from_logits else np.log(y + log_guard)
    return _reduce(-np.sum(t * log_p, axis=axis), reduction)


def cross_entropy_backward(dy, y, t, *, from_logits=False, axis=-1, reduction="mean",
                           log_guard=BOOK_LOG_GUARD, label_smoothing=0.0):
    axis, kind = ce_spec.validate(y, t, from_logits=from_logits, axis=axis, reduction=reduction, log_guard=log_guard,
                                  label_smoothing=label_smoothing)
    t = _targets(y, t, kind, axis, label_smoothing)
    per_example_shape = y.shape[:axis] + y.shape[axis + 1:]
    d_example = np.expand_dims(_unreduce(dy, per_example_shape, reduction, y.dtype), axis)
    if from_logits:
        # d/dx -sum_k t_k log softmax(x)_k = softmax(x) sum_k t_k - t  (= y - t for one-hot)
        return d_example * (softmax(y, axis=axis) * t.sum(axis=axis, keepdims=True) - t)
    return d_example * (-t / (y + log_guard))


def binary_cross_entropy(y, t, *, from_logits=False, reduction="mean", log_guard=BOOK_LOG_GUARD):
    bce_spec.validate(y, t, from_logits=from_logits, reduction=reduction, log_guard=log_guard)
    t = t.astype(y.dtype)
    if from_logits:
        # -[t log s(x) + (1-t) log(1-s(x))] = log(1 + e^x) - x t, and
        # log(1 + e^x) = m + log(e^-m + e^(x-m)) with m = max(x, 0): the softmax trick,
        # so exp never overflows and log never sees 0
        m = np.maximum(y, 0)
        per_element = m + np.log(np.exp(-m) + np.exp(y - m)) - y * t
    else:
        per_element = -(t * np.log(y + log_guard) + (1 - t) * np.log(1 - y + log_guard))
    return _reduce(per_element, reduction)


def binary_cross_entropy_backward(dy, y, t, *, from_logits=False, reduction="mean",
                                  log_guard=BOOK_LOG_GUARD):
    bce_spec.validate(y, t, from_logits=from_logits, reduction=reduction, log_guard=log_guard)
    t = t.astype(y.dtype)
    d_element = _unreduce(dy, y.shape, reduction, y.dtype)
    if from_logits:
        return d_element * (sigmoid(y) - t)
    return d_element * (-t / (y + log_guard) + (1 - t) / (1 - y + log_guard))


def mean_squared_error(y, t):
    mse_spec.validate(y, t)
    return 0.5 * np.sum((y - t) ** 2)  # the book's 1/2 sum: no mean over the batch


def mean_squared_error_backward(dy, y, t):
    return dy * (y - t)


def softmax_with_loss(x, t):
    swl_spec.validate(x, t)
    return cross_entropy(x, t, from_logits=True, reduction="mean")


def softmax_with_loss_backward(dy, x, t):
    """The fused backward of Softmax followed by cross-entropy: (y - t) / N."""
    kind = swl_spec.validate(x, t)
    t = _targets(x, t, kind, -1)
    batch_size = x.size // x.shape[-1]
    return dy * (softmax(x) - t) / batch_size
