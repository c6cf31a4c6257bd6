"""Weight decay penalties in TensorFlow (keras.regularizers.L1/L2 are the oracles)."""
import tensorflow as tf

from shared.concepts import l1_penalty as l1_spec
from shared.concepts import l2_penalty as l2_spec


def l2_penalty(W, *, lam):
    l2_spec.validate(W, lam=lam)
    return 0.5 * lam * tf.reduce_sum(W ** 2)


def l1_penalty(W, *, lam):
    l1_spec.validate(W, lam=lam)
    return lam * tf.reduce_sum(tf.abs(W))
