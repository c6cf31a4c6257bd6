"""Metric-learning losses 距離学習の損失 in TensorFlow from elementary ops, mirroring numpy_impl.metric."""
import tensorflow as tf

from shared.concepts import contrastive_loss as contrastive_spec
from shared.concepts import triplet_loss as triplet_spec
from shared.concepts.contrastive_loss import COSINE_NORM_FLOOR
from tf_impl import numerics


def _reduce(per_pair, reduction):
    if reduction == "mean":
        return tf.reduce_mean(per_pair)
    if reduction == "sum":
        return tf.reduce_sum(per_pair)
    return per_pair


def _unit(x):
    # the safe root: a zero row sits below the floor, and sqrt'(0) = inf would still reach it as 0 * inf
    return x / tf.maximum(numerics.norm(x, axis=1, keepdims=True), COSINE_NORM_FLOOR)


def contrastive_loss(x1, x2, y, *, margin=1.0, distance="euclidean", reduction="mean"):
    contrastive_spec.validate(x1, x2, y, margin=margin, distance=distance, reduction=reduction)
    y = tf.cast(y, x1.dtype)
    if distance == "euclidean":
        d = numerics.norm(x1 - x2, axis=1)
    else:
        d = 1 - tf.reduce_sum(_unit(x1) * _unit(x2), axis=1)
    per_pair = 0.5 * (y * d ** 2 + (1 - y) * tf.maximum(margin - d, 0) ** 2)
    return _reduce(per_pair, reduction)


def _distance(u, v, p_norm, eps):
    # eps on the difference, as torch's pairwise_distance: tf.norm(u - v) alone has a NaN gradient at u == v
    # scaled (numerics.py): tf.norm overflows at 1e30 in float32
    return numerics.p_norm(u - v + eps, p_norm, axis=1)


def triplet_loss(a, p, n, *, margin=1.0, p_norm=2, eps=1e-6, swap=False, squared=False, reduction="mean"):
    triplet_spec.validate(a, p, n, margin=margin, p_norm=p_norm, eps=eps, swap=swap, squared=squared,
                          reduction=reduction)
    d_pos = _distance(a, p, p_norm, eps)
    d_neg = _distance(a, n, p_norm, eps)
    if swap:
        # where the two tie, d(a, n) is kept (and takes the gradient)
        d_pn = _distance(p, n, p_norm, eps)
        d_neg = tf.where(d_pn < d_neg, d_pn, d_neg)
    # tf.nn.relu: a triplet exactly at the margin (h = 0) gets no gradient, as NumPy's h > 0;
    # tf.maximum(h, 0) would pass it (its gradient sends ties to the first argument)
    # squared: scaled, the squares of 1e30-sized distances overflow float32 (numerics.py)
    hinge = numerics.hinge_of_squares(margin, d_pos, d_neg) if squared else margin + d_pos - d_neg
    return _reduce(tf.nn.relu(hinge), reduction)
