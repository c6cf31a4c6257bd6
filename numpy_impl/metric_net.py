"""A small embedding network trained for metric learning 距離学習, from our NumPy layers,
with its backward written out by hand: the loss's backward (numpy_impl.metric /
numpy_impl.mining), the L2 normalisation, then Affine -> ReLU -> Affine.

As a Siamese network シャムネットワーク (contrastive loss) the same parameters embed both
images of a pair; the backward runs through each branch on its own and ADDS the two
branches' gradients. The contract is in shared/concepts/metric_train_step.py.
"""
import numpy as np

from numpy_impl import mining, optimizers
from numpy_impl.activations import relu, relu_backward
from numpy_impl.layers import affine, affine_backward
from numpy_impl.metric import contrastive_loss, contrastive_loss_backward
from shared.concepts import metric_train_step as spec

MINING = {"batch_all": (mining.triplet_batch_all, mining.triplet_batch_all_backward),
          "batch_hard": (mining.triplet_batch_hard, mining.triplet_batch_hard_backward),
          "semi_hard": (mining.triplet_semi_hard, mining.triplet_semi_hard_backward)}


def _l2_normalize(e):
    """u = e / max(||e||, floor) per row, and the norm (for the backward)."""
    norm = np.sqrt(np.sum(e * e, axis=1, keepdims=True))
    return e / np.maximum(norm, spec.NORM_FLOOR), norm


def _l2_normalize_backward(du, u, norm):
    """u = e / ||e|| has Jacobian (I - u u^T) / ||e||: the radial part of du is dropped
    (moving e along itself does not move u), the rest scaled by 1 / ||e||. Below the
    floor u = e / floor is a plain scaling."""
    radial = np.where(norm >= spec.NORM_FLOOR, np.sum(u * du, axis=1, keepdims=True), 0.0)
    return (du - u * radial) / np.maximum(norm, spec.NORM_FLOOR)


def _branch(params, x, hyper):
    """One tower of the network: the embedding of x and what its backward needs."""
    z = affine(x, params["W1"], params["b1"])
    h = relu(z)
    e = affine(h, params["W2"], params.get("b2"))  # b2 only with the normalisation
    norm = None
    if hyper["normalize"]:
        e, norm = _l2_normalize(e)
    return e, (x, z, h, e, norm)


def _branch_backward(de, cache, params, hyper):
    """The gradients of W1, b1, W2 (and b2) from de = dL/d(embedding), for ONE branch."""
    x, z, h, e, norm = cache
    if hyper["normalize"]:
        de = _l2_normalize_backward(de, e, norm)
    dh, dW2, db2 = affine_backward(de, h, params["W2"], params.get("b2"))
    dz = relu_backward(dh, z)
    _, dW1, db1 = affine_backward(dz, x, params["W1"], params["b1"])
    grads = {"W1": dW1, "b1": db1, "W2": dW2}
    if db2 is not None:
        grads["b2"] = db2
    return grads


def embed(params, x, hyper):
    """The embeddings [N, E] of the rows of x (the demo's plot)."""
    return _branch(params, x, hyper)[0]


def loss(params, batch, hyper):
    """The training loss, forward only: what the gradient check differentiates numerically."""
    spec.validate_model(params, batch, hyper)
    if hyper["loss"] == "contrastive":
        e1, e2 = embed(params, batch["x1"], hyper), embed(params, batch["x2"], hyper)
        return contrastive_loss(e1, e2, batch["y"], **spec.loss_kwargs(hyper))
    forward, _ = MINING[hyper["loss"]]
    return forward(embed(params, batch["x"], hyper), batch["labels"], **spec.loss_kwargs(hyper))


def _gradients(params, batch, hyper):
    """(loss, grads) by backpropagation."""
    kwargs = spec.loss_kwargs(hyper)
    if hyper["loss"] == "contrastive":
        e1, cache1 = _branch(params, batch["x1"], hyper)
        e2, cache2 = _branch(params, batch["x2"], hyper)
        loss_value = contrastive_loss(e1, e2, batch["y"], **kwargs)
        de1, de2 = contrastive_loss_backward(1.0, e1, e2, batch["y"], **kwargs)
        g1 = _branch_backward(de1, cache1, params, hyper)
        g2 = _branch_backward(de2, cache2, params, hyper)
        # the key fact of a Siamese net: both branches ARE the same weights, so each
        # weight's gradient is the sum of what the two branches send back to it
        return loss_value, {name: g1[name] + g2[name] for name in g1}
    forward, backward = MINING[hyper["loss"]]
    e, cache = _branch(params, batch["x"], hyper)
    loss_value = forward(e, batch["labels"], **kwargs)
    # the mined triplets are a fixed selection: the gradient flows through their distances only
    de = backward(1.0, e, batch["labels"], **kwargs)
    return loss_value, _branch_backward(de, cache, params, hyper)


def train_step(params, opt_state, batch, hyper):
    spec.validate(params, opt_state, batch, hyper)
    loss_value, grads = _gradients(params, batch, hyper)
    new_params, new_opt_state = optimizers.step_all(params, grads, opt_state, hyper["optimizer"], hyper["opt"])
    return loss_value, grads, new_params, new_opt_state
