"""gan_train_step's porting cases: where a GAN step ported between PyTorch and TensorFlow
goes wrong without an error (imported into gan_train_step.CONCEPT as PORTING_CASES).

  gan-detach-separate-tapes        one GradientTape over both losses and both nets, the
                                   port of a torch step that forgets fake.detach() and
                                   calls (d_loss + g_loss).backward() once
  gan-simultaneous-vs-sequential   the TensorFlow DCGAN tutorial scores G against D from
                                   BEFORE D's update (both tapes open at once, one forward);
                                   the PyTorch DCGAN tutorial, and this concept, against the
                                   UPDATED D

Each case compares one step's gradients, flattened (G's canonical parameters, then D's), in
float64: the generator's gradients are ~1e-5 and smaller at DCGAN's init, so float32's absolute
tolerance (1e-6) would hide differences of tens of percent in them; float64's (1e-14) does not.
The frameworks are imported inside the functions: shared/ stays importable with NumPy alone.

Sources: PyTorch DCGAN tutorial (https://pytorch.org/tutorials/beginner/dcgan_faces_tutorial.html,
"Training": netD is updated with fake.detach(), optimizerD.step(), then output = netD(fake)
"since we just updated D" for errG); TensorFlow DCGAN tutorial
(https://www.tensorflow.org/tutorials/generative/dcgan, train_step: `with tf.GradientTape() as
gen_tape, tf.GradientTape() as disc_tape:` one forward, both losses, then both apply_gradients).
"""
from __future__ import annotations

import numpy as np

from shared import lazy
from shared.concepts import _gan
from shared.spec import PortingCase, Side

BATCH, Z_DIM = 8, 8
ADAM = {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "eps": 1e-8}  # DCGAN's Adam, eps explicit
HYPER = {"g_loss": "non_saturating", "bn_eps": _gan.BN_EPS, "negative_slope": _gan.NEGATIVE_SLOPE,
         "optimizer": "adam_step", "opt": ADAM}


def _make(rng):
    """DCGAN-initialised G and D, a batch of the digits and its noise, Adam's first state."""
    from shared.data import digits
    from shared.training import init_opt_state
    params = _gan.init_params(rng, Z_DIM)
    images = _gan.images(digits().x_train)
    x = images[rng.choice(len(images), BATCH, replace=False)]
    z = rng.standard_normal((BATCH, Z_DIM))
    opt_state = {net: init_opt_state(params[net], "adam_step", ADAM) for net in ("G", "D")}
    return {"params": params, "opt_state": opt_state, "x": x, "z": z}


def _torch_bce(logits, label):
    """BCE from logits against a constant label, as torch users write it (torch_impl.gan's too)."""
    torch = lazy.torch()
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))


def _tf_bce(logits, label):
    """The same in TensorFlow, in the logits' dtype (tf_impl.gan's; a Keras 3 loss would round
    float64 logits to float32)."""
    tf = lazy.tf()
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.fill(tf.shape(logits), tf.constant(label, logits.dtype)), logits=logits))


def _flat(grads):
    # a porting case compares one array: G's gradients, then D's, in canonical order
    return np.concatenate([np.asarray(grads[net][name]).ravel()
                           for net, names in (("G", _gan.GENERATOR_PARAMS), ("D", _gan.DISCRIMINATOR_PARAMS))
                           for name in names])


# ---- gan-detach-separate-tapes -----------------------------------------------------------------
# All three score G against the SAME, not yet updated, D: the only difference measured is
# the detach (the order is the next case's).

def _torch_detached_per_net(params, opt_state, x, z, impl):
    """torch: fake.detach() in the D loss, torch.autograd.grad of each loss w.r.t. its own net
    (impl: torch_impl.gan, passed by the engine)."""
    torch, gan, _bce = lazy.torch(), impl, _torch_bce
    G = {k: v.detach().requires_grad_(True) for k, v in params["G"].items()}
    D = {k: v.detach().requires_grad_(True) for k, v in params["D"].items()}
    fake = gan.generator(z, **G)
    d_loss = _bce(gan.discriminator(x, **D), 1.0) + _bce(gan.discriminator(fake.detach(), **D), 0.0)
    g_loss = _bce(gan.discriminator(fake, **D), 1.0)
    grads_D = torch.autograd.grad(d_loss, list(D.values()))
    grads_G = torch.autograd.grad(g_loss, list(G.values()))
    return _flat({"G": dict(zip(G, grads_G)), "D": dict(zip(D, grads_D))})


def _tf_variables(params):
    tf = lazy.tf()
    return ({k: tf.Variable(v, name=k) for k, v in params["G"].items()},
            {k: tf.Variable(v, name=k) for k, v in params["D"].items()})


def _tf_one_tape(params, opt_state, x, z, impl):
    """The naive port: one tape, one gradient of the summed losses w.r.t. every variable."""
    tf, gan, _bce = lazy.tf(), impl, _tf_bce
    G, D = _tf_variables(params)
    with tf.GradientTape() as tape:
        fake = gan.generator(z, **G)
        d_loss = _bce(gan.discriminator(x, **D), 1.0) + _bce(gan.discriminator(fake, **D), 0.0)
        g_loss = _bce(gan.discriminator(fake, **D), 1.0)
        total = d_loss + g_loss  # inside the tape: a sum taken outside would not be recorded
    variables = list(G.values()) + list(D.values())
    grads = tape.gradient(total, variables)
    return _flat({"G": dict(zip(G, grads[:len(G)])), "D": dict(zip(D, grads[len(G):]))})


def _tf_separate_tapes(params, opt_state, x, z, impl):
    """The TF DCGAN tutorial's train_step: two tapes, each loss differentiated w.r.t. its net."""
    tf, gan, _bce = lazy.tf(), impl, _tf_bce
    G, D = _tf_variables(params)
    with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
        fake = gan.generator(z, **G)
        real_logits, fake_logits = gan.discriminator(x, **D), gan.discriminator(fake, **D)
        d_loss = _bce(real_logits, 1.0) + _bce(fake_logits, 0.0)
        g_loss = _bce(fake_logits, 1.0)
    grads_G = gen_tape.gradient(g_loss, list(G.values()))
    grads_D = disc_tape.gradient(d_loss, list(D.values()))
    return _flat({"G": dict(zip(G, grads_G)), "D": dict(zip(D, grads_D))})


# ---- gan-simultaneous-vs-sequential ------------------------------------------------------------

def _torch_sequential(params, opt_state, x, z, impl):
    """torch_impl.gan.train_step: D updated first, G's loss under the updated D."""
    return _flat(impl.train_step(params, opt_state, {"x": x, "z": z}, HYPER)[1])


def _tf_sequential(params, opt_state, x, z, impl):
    """tf_impl.gan.train_step: the same order, one tape per update."""
    return _flat(impl.train_step(params, opt_state, {"x": x, "z": z}, HYPER)[1])


PORTING_CASES = (
    PortingCase(
        "gan-detach-separate-tapes",
        "A torch GAN step detaches the fake in D's loss and differentiates each loss w.r.t. its own net. "
        "Ported to ONE GradientTape with tape.gradient(d_loss + g_loss, G_vars + D_vars) (the missing "
        "detach), D also receives g_loss's gradient and G d_loss's. With the non-saturating loss both "
        "are the fake logits' BCE with opposite labels: the per-logit gradients s(l) and s(l) - 1 add "
        "to 2 s(l) - 1, ~0 at the start, when D outputs s ~ 0.5, so the fakes' half of BOTH updates "
        "nearly cancels. Fix: one tape per net (the TF tutorial's gen_tape / disc_tape). G's and D's "
        "step-1 gradients compared, all at the same D.",
        _make,
        reference=Side("torch", "d_loss with fake.detach(); torch.autograd.grad(d_loss, D); "
                                "torch.autograd.grad(g_loss, G)", _torch_detached_per_net, uses="gan"),
        naive=Side("tf", "with tf.GradientTape() as tape: ...; tape.gradient(d_loss + g_loss, G_vars + D_vars)",
                   _tf_one_tape, uses="gan"),
        fixed=Side("tf", "gen_tape.gradient(g_loss, G_vars); disc_tape.gradient(d_loss, D_vars)",
                   _tf_separate_tapes, uses="gan"),
        dtype="float64", seed=811,
        source="PyTorch DCGAN tutorial (netD(fake.detach()), errD_fake.backward()); "
               "TensorFlow DCGAN tutorial (train_step: gen_tape, disc_tape)"),
    PortingCase(
        "gan-simultaneous-vs-sequential",
        "The TensorFlow DCGAN tutorial opens both tapes at once: one forward, G's loss scored by D "
        "from BEFORE this step's update. The PyTorch DCGAN tutorial updates D first (optimizerD.step()) "
        "and scores the same fake with the UPDATED D for errG. Adam's first step moves EVERY D weight "
        "by lr = 2e-4 (lr * g / |g|), all in the direction that lowers the fakes' logits: small "
        "against weights of ~0.02, yet G's step-1 gradients change by tens of percent in norm. "
        "Fix: update D, then open G's tape and score with the new D (tf_impl.gan.train_step).",
        _make,
        reference=Side("torch", "optimizerD.step(); errG = criterion(netD(fake), ones)  (torch_impl.gan.train_step)",
                       _torch_sequential, uses="gan"),
        naive=Side("tf", "with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape: one forward, "
                         "both losses; gen_tape.gradient(g_loss, G_vars)", _tf_separate_tapes, uses="gan"),
        fixed=Side("tf", "D step under its own tape, then G's tape against the updated D "
                         "(tf_impl.gan.train_step)", _tf_sequential, uses="gan"),
        dtype="float64", seed=812,
        source="PyTorch DCGAN tutorial (Training: 'Since we just updated D, perform another forward pass "
               "of all-fake batch through D'); TensorFlow DCGAN tutorial (train_step)"),
)
