"""DCGAN's generator and discriminator for the digits from our NumPy layers, each with its
backward written out layer by layer (the architecture and the parameter layouts are in
shared/concepts/_gan.py).

`generator_backward` / `discriminator_backward` return the gradient of every argument in
the order of the forward's signature; `generator_grads` / `discriminator_grads` return
the same as (input gradient, {name: parameter gradient}) for a train step that keeps
its model as a dict.

`train_step` is one DCGAN step (gan_train_step): the discriminator's update with the fakes
held constant, then the generator's update back through the UPDATED discriminator
(dL/dfake from _discriminator_grads, then _generator_grads down to G's parameters).
"""
import numpy as np

from numpy_impl import optimizers
from numpy_impl.activations import leaky_relu, leaky_relu_backward, relu, relu_backward, tanh
from numpy_impl.conv import conv2d, conv2d_backward, conv_transpose2d, conv_transpose2d_backward
from numpy_impl.layers import affine, affine_backward, batch_norm, batch_norm_backward
from numpy_impl.losses import binary_cross_entropy, binary_cross_entropy_backward
from shared.concepts import _gan as spec
from shared.concepts import gan_train_step as train_spec

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


def _generator_grads(dy, z, params, *, bn_eps=spec.BN_EPS):
    """(dz, {name: gradient}) for a generator kept as its canonical dict."""
    dz, *grads = generator_backward(dy, z, **params, bn_eps=bn_eps)
    return dz, dict(zip(spec.GENERATOR_PARAMS, grads))


def _discriminator_grads(dy, x, params, *, negative_slope=spec.NEGATIVE_SLOPE):
    """(dx, {name: gradient}) for a discriminator kept as its canonical dict."""
    dx, *grads = discriminator_backward(dy, x, **params, negative_slope=negative_slope)
    return dx, dict(zip(spec.DISCRIMINATOR_PARAMS, grads))


# ---- gan_train_step: one discriminator update, then one generator update -------------------
# (the contract is in shared/concepts/gan_train_step.py)

def _bce_from_logits(logits, target):
    """BCE(target, sigmoid(logits)), mean over the batch, and its gradient in the logits,
    (sigmoid(l) - target) / N: every image of the batch is labelled `target` (1 real, 0 fake)."""
    t = np.full_like(logits, target)
    return (binary_cross_entropy(logits, t, from_logits=True),
            binary_cross_entropy_backward(1.0, logits, t, from_logits=True))


def _d_loss_and_dlogits(l_real, l_fake):
    """d_loss = BCE(1, l_real) + BCE(0, l_fake) and its gradients in both logit vectors."""
    loss_real, dl_real = _bce_from_logits(l_real, 1)
    loss_fake, dl_fake = _bce_from_logits(l_fake, 0)
    return loss_real + loss_fake, dl_real, dl_fake


def _g_loss_and_dlogits(l_fake, g_loss):
    """The generator's loss of D's logits on the fakes, and its gradient in those logits."""
    if g_loss == "non_saturating":
        # -log D(G(z)): call the fakes real; gradient (s(l) - 1) / N, about -1 / N where D rejects them
        return _bce_from_logits(l_fake, 1)
    # minimax: log(1 - D(G(z))) = -BCE(0, l); gradient -s(l) / N, which vanishes where D rejects them
    loss, dl = _bce_from_logits(l_fake, 0)
    return -loss, -dl


def _d_loss(D, x, fake, hyper):
    """The discriminator's loss, forward only; `fake` is a given array (a constant)."""
    slope = hyper["negative_slope"]
    return _d_loss_and_dlogits(discriminator(x, **D, negative_slope=slope),
                               discriminator(fake, **D, negative_slope=slope))[0]


def _g_loss(D, fake, hyper):
    """The generator's loss of its images `fake` under the discriminator D, forward only."""
    return _g_loss_and_dlogits(discriminator(fake, **D, negative_slope=hyper["negative_slope"]), hyper["g_loss"])[0]


def _update_discriminator(D, opt_state_D, x, fake, hyper):
    """(D's loss, grads, new D, new state). `fake` enters as data: the gradient stops at it,
    as fake.detach() does in torch, so this step cannot move the generator."""
    slope = hyper["negative_slope"]
    l_real = discriminator(x, **D, negative_slope=slope)
    l_fake = discriminator(fake, **D, negative_slope=slope)
    loss, dl_real, dl_fake = _d_loss_and_dlogits(l_real, l_fake)
    _, grads_real = _discriminator_grads(dl_real, x, D, negative_slope=slope)
    _, grads_fake = _discriminator_grads(dl_fake, fake, D, negative_slope=slope)  # its dfake is dropped
    # the same weights score both halves of the batch: each weight's gradient is the sum
    grads = {name: grads_real[name] + grads_fake[name] for name in spec.DISCRIMINATOR_PARAMS}
    new_D, new_state = optimizers.step_all(D, grads, opt_state_D, hyper["optimizer"], hyper["opt"])
    return loss, grads, new_D, new_state


def _update_generator(G, opt_state_G, z, fake, D, hyper):
    """(G's loss, grads, new G, new state) against the discriminator D, which the caller has
    ALREADY updated. D is held fixed: its own gradients are computed on the way (the
    backward passes through its weights) and dropped; only dL/dfake travels on, into G."""
    slope = hyper["negative_slope"]
    loss, dl = _g_loss_and_dlogits(discriminator(fake, **D, negative_slope=slope), hyper["g_loss"])
    dfake, _ = _discriminator_grads(dl, fake, D, negative_slope=slope)
    _, grads = _generator_grads(dfake, z, G, bn_eps=hyper["bn_eps"])
    new_G, new_state = optimizers.step_all(G, grads, opt_state_G, hyper["optimizer"], hyper["opt"])
    return loss, grads, new_G, new_state


def train_step(params, opt_state, batch, hyper):
    train_spec.validate(params, opt_state, batch, hyper)
    x, z = batch["x"], batch["z"]
    G, D = params["G"], params["D"]
    fake = generator(z, **G, bn_eps=hyper["bn_eps"])  # batch statistics: training mode
    loss_D, grads_D, new_D, state_D = _update_discriminator(D, opt_state["D"], x, fake, hyper)
    # G has not changed, so `fake` is still G(z): the G step reuses it, scored by the NEW D
    loss_G, grads_G, new_G, state_G = _update_generator(G, opt_state["G"], z, fake, new_D, hyper)
    return ({"D": loss_D, "G": loss_G}, {"G": grads_G, "D": grads_D},
            {"G": new_G, "D": new_D}, {"G": state_G, "D": state_D})


def _losses(params, batch, hyper):
    """{"D": D's loss, "G": G's loss} at these parameters, both under THIS discriminator (no
    update in between), forward only: for monitoring a run."""
    fake = generator(batch["z"], **params["G"], bn_eps=hyper["bn_eps"])
    return {"D": _d_loss(params["D"], batch["x"], fake, hyper), "G": _g_loss(params["D"], fake, hyper)}


def _samples(params, z, hyper):
    """The generator's images for the noise z [N, Z] (the demo's grid). The batch norm
    uses z's own batch statistics, as in training: no running statistics are kept."""
    return generator(z, **params["G"], bn_eps=hyper["bn_eps"])


def numeric_losses(params, batch, hyper):
    """For the engine's central differences of step 1 (shared.training.numeric_grads):
    {"D.<name>": (w -> d_loss with D's <name> = w, D[name]),
     "G.<name>": (w -> g_loss with G's <name> = w under the UPDATED D, G[name])}.
    The updated D is computed once here with this module's D step from the optimizer's
    initial state, the state every case starts from; each G loss recomputes fake = G(z),
    so the differences see the whole generator, batch norm included."""
    x, z = batch["x"], batch["z"]
    G, D = params["G"], params["D"]
    fake = generator(z, **G, bn_eps=hyper["bn_eps"])
    first_state = train_spec.init_opt_state(params, hyper)
    new_D = _update_discriminator(D, first_state["D"], x, fake, hyper)[2]
    funcs = {}
    for name in spec.DISCRIMINATOR_PARAMS:
        funcs[f"D.{name}"] = (lambda w, name=name: _d_loss({**D, name: w}, x, fake, hyper), D[name])
    for name in spec.GENERATOR_PARAMS:
        funcs[f"G.{name}"] = (lambda w, name=name: _g_loss(new_D, generator(z, **{**G, name: w},
                                                                            bn_eps=hyper["bn_eps"]), hyper), G[name])
    return funcs
