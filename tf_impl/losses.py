"""Loss functions in TensorFlow from elementary ops, mirroring numpy_impl.losses."""
import tensorflow as tf

from shared.concepts import binary_cross_entropy as bce_spec
from shared.concepts import cross_entropy as ce_spec
from shared.concepts import mean_squared_error as mse_spec
from shared.concepts import softmax_with_loss as swl_spec
from shared.concepts.cross_entropy import BOOK_LOG_GUARD
from tf_impl.activations import log_softmax


def one_hot(labels, num_classes, axis, dtype):
    return tf.one_hot(labels, num_classes, axis=axis, dtype=dtype)


def _reduce(per_example, reduction):
    if reduction == "mean":
        return tf.reduce_mean(per_example)
    if reduction == "sum":
        return tf.reduce_sum(per_example)
    return per_example


def cross_entropy(y, t, *, from_logits=False, axis=-1, reduction="mean", log_guard=BOOK_LOG_GUARD,
                  label_smoothing=0.0):
    axis, kind = ce_spec.validate(y, t, from_logits=from_logits, axis=axis, reduction=reduction, log_guard=log_guard,
                                  label_smoothing=label_smoothing)
    t = one_hot(t, y.shape[axis], axis, y.dtype) if kind == "labels" else tf.cast(t, y.dtype)
    if label_smoothing:  # mass to the uniform distribution over the K classes
        t = (1 - label_smoothing) * t + label_smoothing / y.shape[axis]
    log_p = log_softmax(y, axis=axis) if from_logits else tf.math.log(y + log_guard)
    return _reduce(-tf.reduce_sum(t * log_p, axis=axis), reduction)


def binary_cross_entropy(y, t, *, from_logits=False, reduction="mean", log_guard=BOOK_LOG_GUARD):
    bce_spec.validate(y, t, from_logits=from_logits, reduction=reduction, log_guard=log_guard)
    t = tf.cast(t, y.dtype)
    if from_logits:
        # m + log(e^-m + e^(x-m)), m = max(x, 0) without gradient: the tape then gives
        # exactly sigmoid(x) - t, also at x = 0
        m = tf.stop_gradient(tf.maximum(y, 0))
        per_element = m + tf.math.log(tf.exp(-m) + tf.exp(y - m)) - y * t
    else:
        per_element = -(t * tf.math.log(y + log_guard) + (1 - t) * tf.math.log(1 - y + log_guard))
    return _reduce(per_element, reduction)


def mean_squared_error(y, t):
    mse_spec.validate(y, t)
    return 0.5 * tf.reduce_sum((y - t) ** 2)


def softmax_with_loss(x, t):
    swl_spec.validate(x, t)
    return cross_entropy(x, t, from_logits=True)
