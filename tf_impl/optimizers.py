"""Optimizers as pure steps in TensorFlow: the same formulas as numpy_impl.optimizers on
tensors, no tf.Variable (keras.optimizers.* is the oracle, and it assigns to variables)."""
import tensorflow as tf

from shared.concepts import adagrad_step as adagrad_spec
from shared.concepts import adam_step as adam_spec
from shared.concepts import adamw_step as adamw_spec
from shared.concepts import clip_by_global_norm as clip_spec
from shared.concepts import momentum_step as momentum_spec
from shared.concepts import nesterov_step as nesterov_spec
from shared.concepts import rmsprop_step as rmsprop_spec
from shared.concepts import sgd_step as sgd_spec
from tf_impl import numerics


def sgd_step(param, grad, state, *, lr=0.01):
    sgd_spec.validate(param, grad, state, lr=lr)
    return param - lr * grad, {}


def momentum_step(param, grad, state, *, lr=0.01, momentum=0.9):
    momentum_spec.validate(param, grad, state, lr=lr, momentum=momentum)
    v = momentum * state["v"] - lr * grad
    return param + v, {"v": v}


def nesterov_step(param, grad, state, *, lr=0.01, momentum=0.9):
    nesterov_spec.validate(param, grad, state, lr=lr, momentum=momentum)
    v = momentum * state["v"] - lr * grad
    return param + momentum * v - lr * grad, {"v": v}


def adagrad_step(param, grad, state, *, lr=0.01, eps=1e-7, eps_inside_sqrt=False):
    adagrad_spec.validate(param, grad, state, lr=lr, eps=eps, eps_inside_sqrt=eps_inside_sqrt)
    h = state["h"] + grad * grad
    denominator = tf.sqrt(h + eps) if eps_inside_sqrt else tf.sqrt(h) + eps
    return param - lr * grad / denominator, {"h": h}


def rmsprop_step(param, grad, state, *, lr=0.01, rho=0.99, eps=1e-7, centered=False, eps_inside_sqrt=False):
    rmsprop_spec.validate(param, grad, state, lr=lr, rho=rho, eps=eps, centered=centered,
                          eps_inside_sqrt=eps_inside_sqrt)
    h = rho * state["h"] + (1 - rho) * grad * grad
    new_state = {"h": h}
    square = h
    if centered:
        g_avg = rho * state["g_avg"] + (1 - rho) * grad
        new_state["g_avg"] = g_avg
        square = h - g_avg * g_avg
    denominator = tf.sqrt(square + eps) if eps_inside_sqrt else tf.sqrt(square) + eps
    return param - lr * grad / denominator, new_state


def _adam(param, grad, state, lr, beta1, beta2, eps):
    t = state["t"] + 1  # a Python int: beta ** t stays in Python floats, exact in float64
    m = beta1 * state["m"] + (1 - beta1) * grad
    v = beta2 * state["v"] + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return param - lr * m_hat / (tf.sqrt(v_hat) + eps), {"m": m, "v": v, "t": t}


def adam_step(param, grad, state, *, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    adam_spec.validate(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)
    return _adam(param, grad + weight_decay * param, state, lr, beta1, beta2, eps)


def adamw_step(param, grad, state, *, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    adamw_spec.validate(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)
    return _adam(param * (1 - lr * weight_decay), grad, state, lr, beta1, beta2, eps)


def clip_by_global_norm(grads, *, max_norm, eps=0.0):
    """Every gradient scaled by one factor, so that their joint norm is at most max_norm:
    the direction of the update is kept, only its length is cut (勾配クリッピング)."""
    clip_spec.validate(grads, max_norm=max_norm, eps=eps)
    # scaled by one power of two s >= every |g| (numerics.py): tf.clip_by_global_norm's
    # global norm overflows at 1e30 in float32 (porting case clip-norm-overflow)
    s = tf.reduce_max(tf.stack([tf.reshape(numerics.scale_of(g), ()) for g in grads.values()]))
    norm = s * tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(g / s)) for g in grads.values()]))
    # = min(1, max_norm / (norm + eps)), without dividing by a norm of 0
    scale = max_norm / tf.maximum(norm + eps, max_norm)
    return {name: g * scale for name, g in grads.items()}, norm


def step_all(params, grads, opt_state, optimizer, opt):
    """`optimizer` (a step's name, e.g. "adam_step") applied to every parameter that has a
    gradient: ({name: new parameter}, {name: new state})."""
    step = globals()[optimizer]
    new_params, new_state = {}, {}
    for name, grad in grads.items():
        new_params[name], new_state[name] = step(params[name], grad, opt_state[name], **opt)
    return new_params, new_state
