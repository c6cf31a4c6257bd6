"""BiT (Big Transfer, 転移学習) in NumPy: the ResNet-v2 of shared/concepts/_bit.py built from
our layers (std_conv2d: 重みの標準化, group_norm: グループ正規化, relu, max_pool2d, affine),
with the backward of the WHOLE network written out by hand, layer by layer in reverse:

    softmax cross-entropy -> affine head -> global average pool (each pixel gets df / (H W))
    -> final GN + ReLU -> units in reverse: the sum t + shortcut sends its gradient to BOTH
    branches; the residual branch c -> b -> a; the projection (unit01) or the identity
    shortcut; both meet again at u (projection) or at h (identity) and ADD
    -> max pool (to the winner of each window) -> crop the zero padding -> root conv.

The contract (batch, hyper, modes) is in shared/concepts/bit_train_step.py.
"""
import numpy as np

from numpy_impl import optimizers
from numpy_impl.activations import relu, relu_backward
from numpy_impl.conv import std_conv2d, std_conv2d_backward
from numpy_impl.layers import affine, affine_backward, group_norm, group_norm_backward
from numpy_impl.losses import softmax_with_loss, softmax_with_loss_backward
from numpy_impl.pooling import max_pool2d, max_pool2d_backward
from shared.concepts import _bit
from shared.concepts import bit_train_step as spec

POOL = {"kernel": 3, "stride": 2}


def _gn(h, params, prefix, config):
    return group_norm(h, params[prefix + "gamma"], params[prefix + "beta"], groups=config["groups"], eps=_bit.GN_EPS)


def _gn_backward(dz, h, params, prefix, config, grads):
    dh, grads[prefix + "gamma"], grads[prefix + "beta"] = group_norm_backward(
        dz, h, params[prefix + "gamma"], params[prefix + "beta"], groups=config["groups"], eps=_bit.GN_EPS)
    return dh


def _conv(x, w, stride=1, padding=0):
    return std_conv2d(x, w, stride=stride, padding=padding, eps=_bit.WS_EPS)


def _conv_backward(dy, x, w, stride=1, padding=0):
    return std_conv2d_backward(dy, x, w, stride=stride, padding=padding, eps=_bit.WS_EPS)


# ---- forward, keeping what the backward needs -----------------------------------------

def _root(x, params):
    r = _conv(x, params["root/conv"], stride=2, padding=3)
    rp = np.pad(r, ((0, 0), (0, 0), (1, 1), (1, 1)))  # zeros, as BiT: a 0 can win the max
    return max_pool2d(rp, POOL["kernel"], stride=POOL["stride"]), (x, rp)


def _root_backward(dh, cache, params, grads):
    x, rp = cache
    drp = max_pool2d_backward(dh, rp, POOL["kernel"], stride=POOL["stride"])
    dr = drp[:, :, 1:-1, 1:-1]  # the padded border is a constant: its gradient is dropped
    _, grads["root/conv"] = _conv_backward(dr, x, params["root/conv"], stride=2, padding=3)


def _unit(h, params, p, stride, config):
    """One pre-activation bottleneck; returns (h + ..., cache)."""
    za = _gn(h, params, p + "a/gn/", config)
    u = relu(za)
    shortcut = _conv(u, params[p + "a/proj"], stride) if p + "a/proj" in params else h
    t1 = _conv(u, params[p + "a/conv"])
    zb = _gn(t1, params, p + "b/gn/", config)
    ub = relu(zb)
    t2 = _conv(ub, params[p + "b/conv"], stride, 1)
    zc = _gn(t2, params, p + "c/gn/", config)
    uc = relu(zc)
    t3 = _conv(uc, params[p + "c/conv"])
    return t3 + shortcut, (h, za, u, t1, zb, ub, t2, zc, uc)


def _unit_backward(dout, cache, params, p, stride, config, grads):
    h, za, u, t1, zb, ub, t2, zc, uc = cache
    # out = t3 + shortcut: the same dout reaches both branches
    duc, grads[p + "c/conv"] = _conv_backward(dout, uc, params[p + "c/conv"])
    dt2 = _gn_backward(relu_backward(duc, zc), t2, params, p + "c/gn/", config, grads)
    dub, grads[p + "b/conv"] = _conv_backward(dt2, ub, params[p + "b/conv"], stride, 1)
    dt1 = _gn_backward(relu_backward(dub, zb), t1, params, p + "b/gn/", config, grads)
    du, grads[p + "a/conv"] = _conv_backward(dt1, u, params[p + "a/conv"])
    if p + "a/proj" in params:  # the projection reads u too: its gradient adds at u
        du_short, grads[p + "a/proj"] = _conv_backward(dout, u, params[p + "a/proj"], stride)
        du = du + du_short
        dh = 0.0
    else:  # the identity shortcut hands dout straight back to h
        dh = dout
    return dh + _gn_backward(relu_backward(du, za), h, params, p + "a/gn/", config, grads)


def _forward(x, params, config):
    """The pooled features and every cache of the backbone."""
    h, root_cache = _root(x, params)
    caches = []
    for p, stride, *_ in _bit.units(config):
        h, cache = _unit(h, params, p, stride, config)
        caches.append(cache)
    zf = _gn(h, params, "gn/", config)
    f = relu(zf).mean(axis=(2, 3))
    return f, (root_cache, caches, h, zf)


def feature_map(x, params, config):
    """[B, C_last, h, w]: relu(final group norm) of the last block, before the pooling."""
    _bit.validate_features(x, params, config)
    h, _ = _root(x, params)
    for p, stride, *_ in _bit.units(config):
        h, _ = _unit(h, params, p, stride, config)
    return relu(_gn(h, params, "gn/", config))


def features(x, params, config):
    """[B, C_last]: the global average of the final pre-activated map (what the head reads)."""
    return feature_map(x, params, config).mean(axis=(2, 3))


def logits(x, params, config):
    """[B, K] = features @ head/W + head/b."""
    return affine(features(x, params, config), params["head/W"], params["head/b"])


# ---- backward ---------------------------------------------------------------------------

def gradients(x, t, params, config, *, train="all"):
    """(loss, {name: gradient}) of the mean softmax cross-entropy of the logits. train="head":
    the backbone is a fixed feature extractor, only head/W and head/b get gradients."""
    _bit.validate_features(x, params, config)
    f, (root_cache, caches, h, zf) = _forward(x, params, config)
    z = affine(f, params["head/W"], params["head/b"])
    loss_value = softmax_with_loss(z, t)
    dz = softmax_with_loss_backward(1.0, z, t)
    df, dW, db = affine_backward(dz, f, params["head/W"], params["head/b"])
    grads = {}
    if train == "all":
        # the mean over H x W pixels: each pixel receives df / (H W)
        area = zf.shape[2] * zf.shape[3]
        duf = np.broadcast_to((df / area)[:, :, None, None], zf.shape)
        dh = _gn_backward(relu_backward(duf, zf), h, params, "gn/", config, grads)
        for (p, stride, *_), cache in reversed(list(zip(_bit.units(config), caches))):
            dh = _unit_backward(dh, cache, params, p, stride, config, grads)
        _root_backward(dh, root_cache, params, grads)
    grads["head/W"], grads["head/b"] = dW, db
    return loss_value, {name: grads[name] for name in _bit.param_names(config) if name in grads}


def loss(params, batch, hyper):
    """The training loss, forward only: what the engine's gradient check differentiates."""
    spec.validate_model(params, batch, hyper)
    return softmax_with_loss(logits(batch["x"], params, hyper["config"]), batch["t"])


def numeric_losses(params, batch, hyper):
    """{name: (the loss as a function of that one array, the array)} for the engine's central
    differences, one per trained parameter. The same forward as `loss`, but a parameter's
    function starts from the (unperturbed, cached) input of the stage that holds it: the root,
    a unit, or the top (final norm, pooling, head, loss). A perturbation cannot change what
    comes before it, so the values are exactly loss's, about twice as cheap (the per-layer
    call overhead dominates the ~2 forward passes per differenced entry)."""
    spec.validate_model(params, batch, hyper)
    config, x, t = hyper["config"], batch["x"], batch["t"]
    stages = [("root/", None)] + [(p, stride) for p, stride, *_ in _bit.units(config)] + [("top", None)]

    def run(stage, h, P):
        prefix, stride = stage
        if prefix == "root/":
            return _root(h, P)[0]
        if prefix == "top":
            f = relu(_gn(h, P, "gn/", config)).mean(axis=(2, 3))
            return softmax_with_loss(affine(f, P["head/W"], P["head/b"]), t)
        return _unit(h, P, prefix, stride, config)[0]

    inputs, h = [], x
    for stage in stages[:-1]:
        inputs.append(h)
        h = run(stage, h, params)
    inputs.append(h)

    def stage_of(name):
        for k, (prefix, _) in enumerate(stages[:-1]):
            if name.startswith(prefix):
                return k
        return len(stages) - 1  # gn/*, head/*

    def tail(k, P):
        h = inputs[k]
        for stage in stages[k:]:
            h = run(stage, h, P)
        return h

    return {name: (lambda w, name=name, k=stage_of(name): tail(k, {**params, name: w}), params[name])
            for name in spec.trained_names(config, hyper["train"])}


def train_step(params, opt_state, batch, hyper):
    """One step: (loss, grads of the trained parameters, every parameter (the frozen ones the
    same arrays), the trained parameters' optimizer states)."""
    spec.validate(params, opt_state, batch, hyper)
    loss_value, grads = gradients(batch["x"], batch["t"], params, hyper["config"], train=hyper["train"])
    stepped, new_state = optimizers.step_all(params, grads, opt_state, hyper["optimizer"], hyper["opt"])
    return loss_value, grads, {**params, **stepped}, new_state
