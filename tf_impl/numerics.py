"""Scale before squaring, as numpy_impl.numerics: a power of two near the values' size,
so that 1e30-sized float32 values give their norm or standard deviation instead of inf,
and ordinary values give bit for bit the plain formula. The scale is a constant to the
tape (stop_gradient): any power of two gives the same function."""
import tensorflow as tf


def power_of_two_above(m):
    """2^e > m, e = floor(log2 m) + 1; 1 where m is 0. TensorFlow has no frexp: log2 may be
    off by one near a power of two, which leaves 2^e a power of two within 2x of m (all
    that scaling needs); tf.pow of 2 and an integer exponent is exact."""
    positive = m > 0
    safe = tf.where(positive, m, tf.ones_like(m))
    e = tf.floor(tf.math.log(safe) / tf.math.log(tf.constant(2.0, m.dtype))) + 1
    return tf.where(positive, tf.pow(tf.constant(2.0, m.dtype), e), tf.ones_like(m))


def scale_of(z, axis=None):
    """A power of two near max |z| along `axis` (kept), a constant to the tape."""
    return tf.stop_gradient(power_of_two_above(tf.reduce_max(tf.abs(z), axis=axis, keepdims=True)))


def norm(z, axis=None, keepdims=False):
    """sqrt(sum z^2) as s sqrt(sum (z / s)^2); its gradient at z = 0 is 0, not NaN (sqrt'(0) =
    inf would reach it as inf * 0: the root is taken of 1 there and 0 selected)."""
    s = scale_of(z, axis)
    q = tf.reduce_sum(tf.square(z / s), axis=axis, keepdims=True)
    positive = q > 0
    out = tf.where(positive, s * tf.sqrt(tf.where(positive, q, tf.ones_like(q))), tf.zeros_like(q))
    return out if keepdims else tf.squeeze(out, axis=axis)


def std(centred, axis, eps):
    """sqrt(mean(centred^2) + eps), keepdims, as s sqrt(mean((centred / s)^2) + eps / s / s)."""
    s = scale_of(centred, axis)
    if eps == 0:
        return s * tf.sqrt(tf.reduce_mean(tf.square(centred / s), axis=axis, keepdims=True))
    # s at least sqrt(eps): for tiny values (1e-25) s^2 would underflow to 0 and eps / s^2 be inf
    s = tf.maximum(s, power_of_two_above(tf.sqrt(tf.constant(eps, centred.dtype))))
    return s * tf.sqrt(tf.reduce_mean(tf.square(centred / s), axis=axis, keepdims=True) + eps / s / s)


def p_norm(z, p, axis=-1):
    """(sum |z|^p)^(1/p) along `axis` as s (sum |z / s|^p)^(1/p): |z|^p overflows first."""
    if p == 2:
        return norm(z, axis)
    s = scale_of(z, axis)
    return tf.squeeze(s * tf.reduce_sum(tf.abs(z / s) ** p, axis=axis, keepdims=True) ** (1 / p), axis=axis)


def hinge_of_squares(margin, d_pos, d_neg):
    """margin + d_pos^2 - d_neg^2, scaled per entry by a power of two k >= both (see
    numpy_impl.numerics): no inf - inf at 1e30 in float32."""
    k = tf.stop_gradient(power_of_two_above(tf.maximum(d_pos, d_neg)))
    return k * (k * (margin / k / k + tf.square(d_pos / k) - tf.square(d_neg / k)))


def centred(x, axis):
    """x - mean(x) along `axis`, corrected in a second pass (see numpy_impl.numerics): a
    constant group gives exactly 0."""
    c = x - tf.reduce_mean(x, axis=axis, keepdims=True)
    return c - tf.reduce_mean(c, axis=axis, keepdims=True)
