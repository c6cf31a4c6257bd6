"""DCGAN's generator and discriminator for the digits in TensorFlow's own layouts: NHWC
images, HWIO conv kernels, [kh, kw, out, in] transposed-conv kernels, converted from the
canonical parameters (shared/concepts/_gan.py) with shared.layouts at the boundary;
GradientTape gives the backward. A Keras Sequential of the same layers is the oracle."""
import tensorflow as tf

from shared import layouts
from shared.concepts import _gan as spec
from tf_impl.activations import leaky_relu, relu
from tf_impl.layers import affine

# k=4, s=2, p=1 as an explicit padding list: the same as 'SAME' at these sizes (k - s = 2
# splits evenly), but it states torch's padding=1 rather than depend on that coincidence
_PADS = [[0, 0], [spec.PAD, spec.PAD], [spec.PAD, spec.PAD], [0, 0]]


def _conv_transpose(h, w_iohw, out_channels):
    n, height, width = h.shape[0], h.shape[1], h.shape[2]
    out = [n, height * spec.STRIDE, width * spec.STRIDE, out_channels]
    return tf.nn.conv2d_transpose(h, layouts.iohw_to_keras_transpose(w_iohw), out, spec.STRIDE, padding=_PADS)


def generator(z, W_fc, b_fc, W_t1, gamma1, beta1, W_t2, b_t2, *, bn_eps=spec.BN_EPS):
    spec.validate_generator(z, W_fc, b_fc, W_t1, gamma1, beta1, W_t2, b_t2, bn_eps=bn_eps)
    c1, c2 = W_t1.shape[0], W_t1.shape[1]
    # the affine's columns are (C, H, W): reshape to NCHW, then to TF's NHWC
    h0 = layouts.nchw_to_nhwc(tf.reshape(affine(z, W_fc, b_fc), (-1, c1, spec.BASE, spec.BASE)))
    t1 = _conv_transpose(h0, W_t1, c2)
    mean, var = tf.nn.moments(t1, axes=[0, 1, 2], keepdims=True)  # per channel, biased: batch statistics
    bn = tf.nn.batch_normalization(t1, mean, var, beta1, gamma1, bn_eps)  # channels last: (C,) broadcasts
    y = tf.tanh(_conv_transpose(relu(bn), W_t2, spec.IMAGE[0]) + b_t2)
    return layouts.nhwc_to_nchw(y)


def discriminator(x, W_c1, b_c1, W_c2, b_c2, W_fc, b_fc, *, negative_slope=spec.NEGATIVE_SLOPE):
    spec.validate_discriminator(x, W_c1, b_c1, W_c2, b_c2, W_fc, b_fc, negative_slope=negative_slope)
    h = layouts.nchw_to_nhwc(x)
    h = leaky_relu(tf.nn.conv2d(h, layouts.oihw_to_hwio(W_c1), spec.STRIDE, _PADS) + b_c1,
                   negative_slope=negative_slope)
    h = leaky_relu(tf.nn.conv2d(h, layouts.oihw_to_hwio(W_c2), spec.STRIDE, _PADS) + b_c2,
                   negative_slope=negative_slope)
    # affine flattens h [N, 2, 2, F2] in (H, W, C) order: W_fc's canonical (C, H, W) rows reordered to match
    rows = layouts.dense_rows_chw_to_hwc(W_fc, W_c2.shape[0], spec.BASE, spec.BASE)
    return affine(h, rows, b_fc)[:, 0]
