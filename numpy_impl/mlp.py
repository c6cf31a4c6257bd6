"""The book's multi-layer net (MultiLayerNetExtend) from our NumPy layers, with its
backward written out layer by layer: 誤差逆伝播法 for the whole network.

A model is its dict of canonical parameters (see shared/concepts/mlp_train_step.py); the
functions below take it, like the book's methods take `self.params`.
"""

from numpy_impl import optimizers
from numpy_impl.activations import relu, relu_backward
from numpy_impl.layers import (affine, affine_backward, batch_norm, batch_norm_backward, batch_norm_running_stats,
                               dropout, dropout_backward)
from numpy_impl.losses import softmax_with_loss, softmax_with_loss_backward
from numpy_impl.regularizers import l2_penalty, l2_penalty_backward
from shared.concepts import mlp_train_step as spec


def _forward(params, batch, hyper, training):
    """Scores, and what the backward pass needs of every layer. Training uses the
    batch's statistics and the batch's dropout masks; inference the running statistics
    and no dropout."""
    layers = spec.hidden_layers(params)
    h, cache = batch["x"], []
    for i in range(1, layers + 1):
        z = affine(h, params[f"W{i}"])
        y = batch_norm(z, params[f"gamma{i}"], params[f"beta{i}"], params[f"running_mean{i}"],
                       params[f"running_var{i}"], training=training, eps=hyper["bn_eps"])
        r = relu(y)
        cache.append((h, z, y, r))
        h = dropout(r, batch["masks"][i - 1], p=hyper["dropout"]) if training else r
    out = layers + 1
    scores = affine(h, params[f"W{out}"], params[f"b{out}"])
    cache.append((h,))
    return scores, cache


def predict(params, x, hyper):
    return _forward(params, {"x": x}, hyper, training=False)[0]


def _weights(params):
    return [name for name in params if name.startswith("W")]


def _objective(scores, params, batch, hyper):
    """Softmax-with-Loss plus the book's weight decay on every W."""
    decay = sum(l2_penalty(params[name], lam=hyper["weight_decay"]) for name in _weights(params))
    return softmax_with_loss(scores, batch["t"]) + decay


def loss(params, batch, hyper):
    """The training loss, forward only: what the gradient check differentiates numerically."""
    return _objective(_forward(params, batch, hyper, training=True)[0], params, batch, hyper)


def _gradients(params, batch, hyper):
    """(loss, grads) by backpropagation, one layer's backward after another."""
    layers = spec.hidden_layers(params)
    scores, cache = _forward(params, batch, hyper, training=True)
    loss_value = _objective(scores, params, batch, hyper)
    grads = {}
    out = layers + 1
    d_scores = softmax_with_loss_backward(1.0, scores, batch["t"])
    (h,) = cache[-1]
    dh, grads[f"W{out}"], grads[f"b{out}"] = affine_backward(d_scores, h, params[f"W{out}"], params[f"b{out}"])
    for i in range(layers, 0, -1):
        h_in, z, y, r = cache[i - 1]
        dr = dropout_backward(dh, r, batch["masks"][i - 1], p=hyper["dropout"])
        dy = relu_backward(dr, y)
        dz, grads[f"gamma{i}"], grads[f"beta{i}"] = batch_norm_backward(
            dy, z, params[f"gamma{i}"], params[f"beta{i}"], params[f"running_mean{i}"], params[f"running_var{i}"],
            training=True, eps=hyper["bn_eps"])
        dh, grads[f"W{i}"], _ = affine_backward(dz, h_in, params[f"W{i}"])
    for name in _weights(params):  # weight decay's gradient lam W joins each W's gradient
        grads[name] = grads[name] + l2_penalty_backward(1.0, params[name], lam=hyper["weight_decay"])
    return loss_value, grads, cache


def train_step(params, opt_state, batch, hyper):
    spec.validate(params, opt_state, batch, hyper)
    loss_value, grads, cache = _gradients(params, batch, hyper)
    new_params = dict(params)
    for i in range(1, spec.hidden_layers(params) + 1):
        z = cache[i - 1][1]
        new_params[f"running_mean{i}"], new_params[f"running_var{i}"] = batch_norm_running_stats(
            z, params[f"running_mean{i}"], params[f"running_var{i}"], momentum=hyper["bn_momentum"])
    stepped, new_opt_state = optimizers.step_all(params, grads, opt_state, hyper["optimizer"], hyper["opt"])
    new_params.update(stepped)
    return loss_value, grads, new_params, new_opt_state
