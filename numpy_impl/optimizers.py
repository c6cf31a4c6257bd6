"""Optimizers 最適化手法 as pure steps: step(param, grad, state, **hyper) -> (param, state).

The book's optimizer classes keep their state (v, h, m, ...) in `self` and update the
parameters in place; here the state comes in and goes out, and nothing is modified, so
one step can be compared across frameworks. `shared.concepts.<name>.init_state(param)`
gives the state before the first step.
"""
import numpy as np

from numpy_impl import numerics
from shared.concepts import adagrad_step as adagrad_spec
from shared.concepts import adam_step as adam_spec
from shared.concepts import adamw_step as adamw_spec
from shared.concepts import clip_by_global_norm as clip_spec
from shared.concepts import momentum_step as momentum_spec
from shared.concepts import nesterov_step as nesterov_spec
from shared.concepts import rmsprop_step as rmsprop_spec
from shared.concepts import sgd_step as sgd_spec


def sgd_step(param, grad, state, *, lr=0.01):
    sgd_spec.validate(param, grad, state, lr=lr)
    return param - lr * grad, {}


def momentum_step(param, grad, state, *, lr=0.01, momentum=0.9):
    momentum_spec.validate(param, grad, state, lr=lr, momentum=momentum)
    # the book's velocity v = momentum v - lr grad (Keras' form); torch keeps
    # b = momentum b + grad and steps -lr b: the same while lr stays constant
    v = momentum * state["v"] - lr * grad
    return param + v, {"v": v}


def nesterov_step(param, grad, state, *, lr=0.01, momentum=0.9):
    nesterov_spec.validate(param, grad, state, lr=lr, momentum=momentum)
    v = momentum * state["v"] - lr * grad
    # look ahead along the new velocity: the gradient is taken where momentum carries us
    # (Sutskever et al. 2013, in the form Keras and torch use)
    return param + momentum * v - lr * grad, {"v": v}


def adagrad_step(param, grad, state, *, lr=0.01, eps=1e-7, eps_inside_sqrt=False):
    adagrad_spec.validate(param, grad, state, lr=lr, eps=eps, eps_inside_sqrt=eps_inside_sqrt)
    h = state["h"] + grad * grad  # every squared gradient ever seen: the step only shrinks
    denominator = np.sqrt(h + eps) if eps_inside_sqrt else np.sqrt(h) + eps
    return param - lr * grad / denominator, {"h": h}


def rmsprop_step(param, grad, state, *, lr=0.01, rho=0.99, eps=1e-7, centered=False, eps_inside_sqrt=False):
    rmsprop_spec.validate(param, grad, state, lr=lr, rho=rho, eps=eps, centered=centered,
                          eps_inside_sqrt=eps_inside_sqrt)
    # an exponential moving average forgets old gradients, where AdaGrad's sum does not
    h = rho * state["h"] + (1 - rho) * grad * grad
    new_state = {"h": h}
    square = h
    if centered:  # the variance of the gradient instead of its second moment
        g_avg = rho * state["g_avg"] + (1 - rho) * grad
        new_state["g_avg"] = g_avg
        square = h - g_avg * g_avg
    denominator = np.sqrt(square + eps) if eps_inside_sqrt else np.sqrt(square) + eps
    return param - lr * grad / denominator, new_state


def _adam(param, grad, state, lr, beta1, beta2, eps):
    t = state["t"] + 1
    m = beta1 * state["m"] + (1 - beta1) * grad
    v = beta2 * state["v"] + (1 - beta2) * grad * grad
    # m and v start at 0 and are biased towards it early on: divide the bias out
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), {"m": m, "v": v, "t": t}


def adam_step(param, grad, state, *, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    adam_spec.validate(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)
    # weight decay as torch's Adam does it: an L2 term added to the gradient, which m
    # and v then rescale (AdamW decouples it)
    return _adam(param, grad + weight_decay * param, state, lr, beta1, beta2, eps)


def adamw_step(param, grad, state, *, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    adamw_spec.validate(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)
    # decoupled weight decay (Loshchilov & Hutter): shrink the parameter directly, by
    # lr * weight_decay, outside Adam's rescaling
    return _adam(param * (1 - lr * weight_decay), grad, state, lr, beta1, beta2, eps)


def clip_by_global_norm(grads, *, max_norm, eps=0.0):
    """Every gradient scaled by one factor, so that their joint norm is at most max_norm:
    the direction of the update is kept, only its length is cut (勾配クリッピング)."""
    clip_spec.validate(grads, max_norm=max_norm, eps=eps)
    # the norm of every entry of every gradient, as if they were one long vector, divided
    # first by one power of two s >= every |g| (numerics.py): 1e30 gradients in float32
    # would otherwise give an infinite norm and clip everything to 0
    s = max(numerics.scale_of(g).item() for g in grads.values())
    norm = s * np.sqrt(sum(np.sum((g / s) ** 2) for g in grads.values()))
    # = min(1, max_norm / (norm + eps)), without dividing by a norm of 0
    scale = max_norm / np.maximum(norm + eps, max_norm)
    return {name: g * scale for name, g in grads.items()}, np.asarray(norm)


def step_all(params, grads, opt_state, optimizer, opt):
    """`optimizer` (a step's name, e.g. "adam_step") applied to every parameter that has a
    gradient: ({name: new parameter}, {name: new state})."""
    step = globals()[optimizer]
    new_params, new_state = {}, {}
    for name, grad in grads.items():
        new_params[name], new_state[name] = step(params[name], grad, opt_state[name], **opt)
    return new_params, new_state
