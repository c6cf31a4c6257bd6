"""Scale before squaring. float32 holds 1e30 but not its square (3.4e38 is the largest
float32), so a norm or a variance of 1e30-sized values overflows unless the values are
divided by a number of their size first, as LAPACK's dnrm2 does. The scale here is a power
of two: dividing by it changes no digit in binary floating point, so ordinary values give
bit for bit what the plain formula gives, and values near float32's limits give the answer
instead of inf or NaN (issue 19: batch norm 85-105% off and a clipped norm of inf at 1e30)."""
import numpy as np


def power_of_two_above(m):
    """2^e > m >= 2^(e-1) (frexp: m = f 2^e, 0.5 <= f < 1); 1 where m is 0."""
    _, e = np.frexp(m)
    return np.where(m > 0, np.ldexp(np.ones_like(m), e), np.ones_like(m))


def scale_of(z, axis=None):
    """A power of two at least max |z| along `axis` (kept, for broadcasting)."""
    return power_of_two_above(np.abs(z).max(axis=axis, keepdims=True, initial=0.0))


def norm(z, axis=None, keepdims=False):
    """sqrt(sum z^2) as s sqrt(sum (z / s)^2)."""
    s = scale_of(z, axis)
    out = s * np.sqrt(np.sum((z / s) ** 2, axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def std(centred, axis, eps):
    """sqrt(mean(centred^2) + eps), keepdims, as s sqrt(mean((centred / s)^2) + eps / s / s):
    the biased standard deviation of values already centred, with eps inside the root."""
    s = scale_of(centred, axis)
    if eps == 0:
        return s * np.sqrt(np.mean((centred / s) ** 2, axis=axis, keepdims=True))
    # s at least sqrt(eps): for tiny values (1e-25) s^2 would underflow to 0 and eps / s^2 be inf
    s = np.maximum(s, power_of_two_above(np.sqrt(np.asarray(eps, centred.dtype))))
    return s * np.sqrt(np.mean((centred / s) ** 2, axis=axis, keepdims=True) + eps / s / s)


def p_norm(z, p, axis=-1):
    """(sum |z|^p)^(1/p) along `axis` as s (sum |z / s|^p)^(1/p): |z|^p overflows first."""
    if p == 2:
        return norm(z, axis)
    s = scale_of(z, axis)
    return np.squeeze(s * np.sum(np.abs(z / s) ** p, axis=axis, keepdims=True) ** (1 / p), axis=axis)


def hinge_of_squares(margin, d_pos, d_neg):
    """margin + d_pos^2 - d_neg^2 as k (k (margin / k / k + (d_pos / k)^2 - (d_neg / k)^2)),
    k a power of two >= both per entry: at 1e30 the squares are inf in float32 and inf - inf
    NaN, where the true hinge is often negative (a loss of 0). k (k h) keeps k * k, itself
    inf, from meeting a hinge of exactly 0."""
    k = power_of_two_above(np.maximum(d_pos, d_neg))
    return k * (k * (margin / k / k + (d_pos / k) ** 2 - (d_neg / k) ** 2))


def centred(x, axis):
    """x - mean(x) along `axis` by the corrected two-pass algorithm (Chan, Golub and LeVeque
    1983): the mean of x - mean(x), which rounding leaves nonzero, is subtracted again. A
    constant group then gives exactly 0, where the plain mean of n equal float32 values can
    be an ulp off (an ulp of 1e30 is 1e23, far above sqrt(eps): x_hat would be +-1, not 0)."""
    c = x - x.mean(axis=axis, keepdims=True)
    return c - c.mean(axis=axis, keepdims=True)
