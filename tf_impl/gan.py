"""DCGAN's generator and discriminator for the digits in TensorFlow's own layouts: NHWC
images, HWIO conv kernels, [kh, kw, out, in] transposed-conv kernels, converted from the
canonical parameters (shared/concepts/_gan.py) with shared.layouts at the boundary;
GradientTape gives the backward. A Keras Sequential of the same layers is the oracle."""
import tensorflow as tf

from shared import layouts
from shared.concepts import _gan as spec
from shared.concepts import gan_train_step as train_spec
from tf_impl import optimizers
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


# ---- gan_train_step: one DCGAN update of D, then of G (shared/concepts/gan_train_step.py) ----

def _variables(net):
    return {name: tf.Variable(p, name=name) for name, p in net.items()}


def _bce(logits, label):
    # BCE from logits against a constant label (1 = real, 0 = fake), mean over the batch. The
    # TF DCGAN tutorial's tf.keras.losses.BinaryCrossentropy(from_logits=True) is this same op
    # (measured: bit-identical in float32), but a Keras 3 loss converts its inputs to its own
    # dtype, float32 unless dtype="float64" is passed: float64 logits would be rounded
    # (measured 6e-8 off). The tf.nn op keeps the input's dtype
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), tf.constant(
        label, logits.dtype)), logits=logits))


def _generator_loss(logits, kind):
    """non_saturating: BCE(ones, D(G(z))); minimax: -BCE(zeros, D(G(z)))."""
    return _bce(logits, 1.0) if kind == "non_saturating" else -_bce(logits, 0.0)


def train_step(params, opt_state, batch, hyper):
    """D first, then G against the UPDATED D (the PyTorch DCGAN tutorial's order; TF's DCGAN
    tutorial opens both tapes at once and scores G against the D from before its update:
    shared/concepts/_gan_porting.py measures the difference). One tape per update."""
    train_spec.validate(params, opt_state, batch, hyper)
    G, D = _variables(params["G"]), _variables(params["D"])
    slope, kind, bn_eps = hyper["negative_slope"], hyper["g_loss"], hyper["bn_eps"]

    # the fake is computed OUTSIDE the D tape: the tape never records G's forward, so the D
    # loss has no path back to G (torch's fake.detach()); tf.stop_gradient inside the tape
    # would do the same at the cost of recording a forward nobody differentiates
    fake = generator(batch["z"], **G, bn_eps=bn_eps)
    with tf.GradientTape() as tape:
        d_loss = (_bce(discriminator(batch["x"], **D, negative_slope=slope), 1.0)
                  + _bce(discriminator(fake, **D, negative_slope=slope), 0.0))
    grads_D = dict(zip(D, tape.gradient(d_loss, list(D.values()))))
    new_D, state_D = optimizers.step_all(params["D"], grads_D, opt_state["D"], hyper["optimizer"], hyper["opt"])

    # the G tape must record G's forward, so the fake is recomputed inside it: the same
    # values, G has not changed. D' = new_D are plain tensors, not watched: held fixed
    with tf.GradientTape() as tape:
        fake = generator(batch["z"], **G, bn_eps=bn_eps)
        g_loss = _generator_loss(discriminator(fake, **new_D, negative_slope=slope), kind)
    grads_G = dict(zip(G, tape.gradient(g_loss, list(G.values()))))
    new_G, state_G = optimizers.step_all(params["G"], grads_G, opt_state["G"], hyper["optimizer"], hyper["opt"])
    return ({"D": d_loss, "G": g_loss}, {"G": grads_G, "D": grads_D},
            {"G": new_G, "D": new_D}, {"G": state_G, "D": state_D})
