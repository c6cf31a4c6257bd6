"""DCGAN's generator and discriminator for the digits from our NumPy layers, each with its
backward written out layer by layer (the architecture and the parameter layouts are in
shared/concepts/_gan.py).

`generator_backward` / `discriminator_backward` return the gradient of every argument in
the order of the forward's signature; `generator_grads` / `discriminator_grads` return
the same as (input gradient, {name: parameter gradient}) for a train step that keeps
its model as a dict.
"""
import numpy as np

from numpy_impl.activations import leaky_relu, leaky_relu_backward, relu, relu_backward, tanh
from numpy_impl.conv import conv2d, conv2d_backward, conv_transpose2d, conv_transpose2d_backward
from numpy_impl.layers import affine, affine_backward, batch_norm, batch_norm_backward
from shared.concepts import _gan as spec

_UP = {"stride": spec.STRIDE, "padding": spec.PAD}


def _no_running_stats(channels, dtype):
    # batch_norm reads running statistics only in inference; these are never used
    return np.zeros(channels, dtype), np.ones(channels, dtype)


def _generator_forward(z, W_fc, b_fc, W_t1, gamma1, beta1, W_t2, b_t2, bn_eps):
    n, c1, c2 = z.shape[0], W_t1.shape[0], W_t1.shape[1]
    a = affine(z, W_fc, b_fc)                               # [N, C1*2*2]
    h0 = a.reshape(n, c1, spec.BASE, spec.BASE)             # columns read in (C, H, W) order
    t1 = conv_transpose2d(h0, W_t1, **_UP)                  # [N, C2, 4, 4]
    stats = _no_running_stats(c2, z.dtype)
    bn = batch_norm(t1, gamma1, beta1, *stats, training=True, eps=bn_eps)
    r = relu(bn)
    t2 = conv_transpose2d(r, W_t2, b_t2, **_UP)             # [N, 1, 8, 8]
    return tanh(t2), (h0, t1, stats, bn, r)


def generator(z, W_fc, b_fc, W_t1, gamma1, beta1, W_t2, b_t2, *, bn_eps=spec.BN_EPS):
    spec.validate_generator(z, W_fc, b_fc, W_t1, gamma1, beta1, W_t2, b_t2, bn_eps=bn_eps)
    return _generator_forward(z, W_fc, b_fc, W_t1, gamma1, beta1, W_t2, b_t2, bn_eps)[0]


def generator_backward(dy, z, W_fc, b_fc, W_t1, gamma1, beta1, W_t2, b_t2, *, bn_eps=spec.BN_EPS):
    """(dz, dW_fc, db_fc, dW_t1, dgamma1, dbeta1, dW_t2, db_t2), from the image back to z."""
    spec.validate_generator(z, W_fc, b_fc, W_t1, gamma1, beta1, W_t2, b_t2, bn_eps=bn_eps)
    y, (h0, t1, stats, bn, r) = _generator_forward(z, W_fc, b_fc, W_t1, gamma1, beta1, W_t2, b_t2, bn_eps)
    dt2 = dy * (1 - y ** 2)                                 # tanh' = 1 - tanh^2, from the output
    dr, dW_t2, db_t2 = conv_transpose2d_backward(dt2, r, W_t2, b_t2, **_UP)
    dbn = relu_backward(dr, bn)
    # training mode: the batch mean and variance depend on every t1, and batch_norm_backward
    # carries that through
    dt1, dgamma1, dbeta1 = batch_norm_backward(dbn, t1, gamma1, beta1, *stats, training=True, eps=bn_eps)
    dh0, dW_t1 = conv_transpose2d_backward(dt1, h0, W_t1, **_UP)
    dz, dW_fc, db_fc = affine_backward(dh0.reshape(dh0.shape[0], -1), z, W_fc, b_fc)
    return dz, dW_fc, db_fc, dW_t1, dgamma1, dbeta1, dW_t2, db_t2


def _discriminator_forward(x, W_c1, b_c1, W_c2, b_c2, W_fc, b_fc, negative_slope):
    c1 = conv2d(x, W_c1, b_c1, **_UP)                       # [N, F1, 4, 4]
    h1 = leaky_relu(c1, negative_slope=negative_slope)
    c2 = conv2d(h1, W_c2, b_c2, **_UP)                      # [N, F2, 2, 2]
    h2 = leaky_relu(c2, negative_slope=negative_slope)
    logits = affine(h2, W_fc, b_fc)                         # flattens h2 in (C, H, W) order
    return logits[:, 0], (c1, h1, c2, h2)


def discriminator(x, W_c1, b_c1, W_c2, b_c2, W_fc, b_fc, *, negative_slope=spec.NEGATIVE_SLOPE):
    spec.validate_discriminator(x, W_c1, b_c1, W_c2, b_c2, W_fc, b_fc, negative_slope=negative_slope)
    return _discriminator_forward(x, W_c1, b_c1, W_c2, b_c2, W_fc, b_fc, negative_slope)[0]


def discriminator_backward(dy, x, W_c1, b_c1, W_c2, b_c2, W_fc, b_fc, *, negative_slope=spec.NEGATIVE_SLOPE):
    """(dx, dW_c1, db_c1, dW_c2, db_c2, dW_fc, db_fc), from the logits back to the image."""
    spec.validate_discriminator(x, W_c1, b_c1, W_c2, b_c2, W_fc, b_fc, negative_slope=negative_slope)
    _, (c1, h1, c2, h2) = _discriminator_forward(x, W_c1, b_c1, W_c2, b_c2, W_fc, b_fc, negative_slope)
    dh2, dW_fc, db_fc = affine_backward(dy[:, None], h2, W_fc, b_fc)  # dh2 has h2's shape again
    dc2 = leaky_relu_backward(dh2, c2, negative_slope=negative_slope)
    dh1, dW_c2, db_c2 = conv2d_backward(dc2, h1, W_c2, b_c2, **_UP)
    dc1 = leaky_relu_backward(dh1, c1, negative_slope=negative_slope)
    dx, dW_c1, db_c1 = conv2d_backward(dc1, x, W_c1, b_c1, **_UP)
    return dx, dW_c1, db_c1, dW_c2, db_c2, dW_fc, db_fc


def generator_grads(dy, z, params, *, bn_eps=spec.BN_EPS):
    """(dz, {name: gradient}) for a generator kept as its canonical dict."""
    dz, *grads = generator_backward(dy, z, **params, bn_eps=bn_eps)
    return dz, dict(zip(spec.GENERATOR_PARAMS, grads))


def discriminator_grads(dy, x, params, *, negative_slope=spec.NEGATIVE_SLOPE):
    """(dx, {name: gradient}) for a discriminator kept as its canonical dict."""
    dx, *grads = discriminator_backward(dy, x, **params, negative_slope=negative_slope)
    return dx, dict(zip(spec.DISCRIMINATOR_PARAMS, grads))
