"""DCGAN's generator and discriminator for the digits in PyTorch, from torch.nn.functional
(the architecture and the canonical parameter layouts are in shared/concepts/_gan.py);
autograd gives the backward. An nn.Sequential of the same layers is the oracle."""
import torch
import torch.nn.functional as F

from shared.concepts import _gan as spec
from shared.concepts import gan_train_step as train_spec
from torch_impl import optimizers

_UP = {"stride": spec.STRIDE, "padding": spec.PAD}


def generator(z, W_fc, b_fc, W_t1, gamma1, beta1, W_t2, b_t2, *, bn_eps=spec.BN_EPS):
    spec.validate_generator(z, W_fc, b_fc, W_t1, gamma1, beta1, W_t2, b_t2, bn_eps=bn_eps)
    h0 = (z @ W_fc + b_fc).unflatten(1, (W_t1.shape[0], spec.BASE, spec.BASE))  # columns are (C, H, W)
    t1 = F.conv_transpose2d(h0, W_t1, **_UP)  # F takes ConvTranspose2d's IOHW weight, the canonical layout
    # no running statistics: training=True normalises with the batch's and reads none
    bn = F.batch_norm(t1, None, None, gamma1, beta1, training=True, eps=bn_eps)
    return torch.tanh(F.conv_transpose2d(F.relu(bn), W_t2, b_t2, **_UP))


def discriminator(x, W_c1, b_c1, W_c2, b_c2, W_fc, b_fc, *, negative_slope=spec.NEGATIVE_SLOPE):
    spec.validate_discriminator(x, W_c1, b_c1, W_c2, b_c2, W_fc, b_fc, negative_slope=negative_slope)
    h = F.leaky_relu(F.conv2d(x, W_c1, b_c1, **_UP), negative_slope)
    h = F.leaky_relu(F.conv2d(h, W_c2, b_c2, **_UP), negative_slope)
    # flatten(1) of NCHW is W_fc's canonical (C, H, W) row order: nothing to reorder
    return (h.flatten(1) @ W_fc + b_fc)[:, 0]


# ---- gan_train_step: one DCGAN update of D, then of G (shared/concepts/gan_train_step.py) ----

def _leaves(net):
    # the canonical tensors as autograd leaves; detach() shares their storage, which is
    # safe: nothing below writes in place (the optimizer step returns new tensors)
    return {name: p.detach().requires_grad_(True) for name, p in net.items()}


def _bce(logits, label):
    # BCE from logits against a constant label (1 = real, 0 = fake), mean over the batch
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))


def _generator_loss(logits, kind):
    """non_saturating: BCE(ones, D(G(z))), the DCGAN tutorials' G loss; minimax: the
    original objective's -BCE(zeros, D(G(z))) = mean(log(1 - sigmoid(D(G(z)))))."""
    return _bce(logits, 1.0) if kind == "non_saturating" else -_bce(logits, 0.0)


def train_step(params, opt_state, batch, hyper):
    """The PyTorch DCGAN tutorial's step: D first, then G against the UPDATED D."""
    train_spec.validate(params, opt_state, batch, hyper)
    G, D = _leaves(params["G"]), _leaves(params["D"])
    slope, kind = hyper["negative_slope"], hyper["g_loss"]
    fake = generator(batch["z"], **G, bn_eps=hyper["bn_eps"])  # training mode: the batch's statistics

    # update_discriminator. fake.detach(): D's loss must not reach G, whose step has its own
    # loss. With the tutorial's errD.backward() a missing detach would fill G's .grad with
    # d_loss's gradient (and free G's graph, needed again below); autograd.grad w.r.t. D's
    # tensors alone would not go into G anyway, so here the detach states the contract and
    # keeps G's graph out of this backward
    d_loss = (_bce(discriminator(batch["x"], **D, negative_slope=slope), 1.0)
              + _bce(discriminator(fake.detach(), **D, negative_slope=slope), 0.0))
    grads_D = dict(zip(D, torch.autograd.grad(d_loss, list(D.values()))))  # w.r.t. D's tensors only
    new_D, state_D = optimizers.step_all(params["D"], grads_D, opt_state["D"], hyper["optimizer"], hyper["opt"])

    # update_generator against D' = new_D: plain tensors (no requires_grad), so D' is held
    # fixed; fake is the same G(z), its graph to G intact (the D step only used a detached copy)
    g_loss = _generator_loss(discriminator(fake, **new_D, negative_slope=slope), kind)
    grads_G = dict(zip(G, torch.autograd.grad(g_loss, list(G.values()))))
    new_G, state_G = optimizers.step_all(params["G"], grads_G, opt_state["G"], hyper["optimizer"], hyper["opt"])
    return ({"D": d_loss.detach(), "G": g_loss.detach()}, {"G": grads_G, "D": grads_D},
            {"G": new_G, "D": new_D}, {"G": state_G, "D": state_D})
