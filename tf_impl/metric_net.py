"""The metric-learning embedding network as a tf.Module, loaded from the canonical
parameter dict; GradientTape gives the gradients, tf_impl.optimizers the step.

Siamese シャムネットワーク: ONE module embeds both images of a pair inside the tape, so
the tape's gradient of each variable is the sum over both branches.
The contract is in shared/concepts/metric_train_step.py."""
import tensorflow as tf

from shared.concepts import metric_train_step as spec
from tf_impl import mining, optimizers
from tf_impl.activations import relu
from tf_impl.layers import affine
from tf_impl.metric import contrastive_loss

MINING = {"batch_all": mining.triplet_batch_all, "batch_hard": mining.triplet_batch_hard,
          "semi_hard": mining.triplet_semi_hard}


class EmbeddingNet(tf.Module):
    """Variables named as the canonical dict; Dense-style kernels are [in, out] as in
    Keras, so loading is a copy."""

    def __init__(self, params, *, normalize):
        super().__init__()
        self.normalize = normalize
        self.params = {name: tf.Variable(params[name], name=name) for name in spec.param_names(normalize)}

    def __call__(self, x):
        P = self.params
        e = affine(relu(affine(x, P["W1"], P["b1"])), P["W2"], P.get("b2"))  # b2 only with the normalisation
        if self.normalize:
            e = e / tf.maximum(tf.norm(e, axis=1, keepdims=True), tf.constant(spec.NORM_FLOOR, e.dtype))
        return e


def embed(params, x, hyper):
    return EmbeddingNet(params, normalize=hyper["normalize"])(x)


def _loss(model, batch, hyper):
    kwargs = spec.loss_kwargs(hyper)
    if hyper["loss"] == "contrastive":
        # the same model twice: shared weights, the tape sums both branches' gradients
        return contrastive_loss(model(batch["x1"]), model(batch["x2"]), batch["y"], **kwargs)
    return MINING[hyper["loss"]](model(batch["x"]), batch["labels"], **kwargs)


def _model(params, batch, hyper):
    """The framework's model holding the canonical `params`, set up for training."""
    return EmbeddingNet(params, normalize=hyper["normalize"])


def loss(params, batch, hyper):
    """The training loss of the canonical `params`, forward only: the same function as
    numpy_impl's (the framework's model built from them, then its loss)."""
    return _loss(_model(params, batch, hyper), batch, hyper)


def train_step(params, opt_state, batch, hyper):
    spec.validate(params, opt_state, batch, hyper)
    model = _model(params, batch, hyper)
    with tf.GradientTape() as tape:
        loss_value = _loss(model, batch, hyper)
    names = list(model.params)
    grads = dict(zip(names, tape.gradient(loss_value, [model.params[name] for name in names])))
    new_params, new_opt_state = optimizers.step_all(params, grads, opt_state, hyper["optimizer"], hyper["opt"])
    return loss_value, grads, new_params, new_opt_state
