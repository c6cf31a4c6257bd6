"""The book's multi-layer net as a tf.Module, loaded from and saved to the canonical
parameter dict; GradientTape gives the gradients, tf_impl.optimizers the step."""
import tensorflow as tf

from shared.concepts import mlp_train_step as spec
from shared.concepts.batch_norm import BOOK_EPS
from tf_impl import optimizers
from tf_impl.activations import relu
from tf_impl.layers import affine, batch_norm, batch_norm_running_stats, dropout
from tf_impl.losses import softmax_with_loss
from tf_impl.regularizers import l2_penalty


class MultiLayerNet(tf.Module):
    """Variables named as the canonical dict; Dense-style kernels are [in, out] as in
    Keras, so loading is a copy. Running statistics are non-trainable variables."""

    def __init__(self, params, *, bn_momentum=0.9, bn_eps=BOOK_EPS):
        super().__init__()
        self.layers = spec.hidden_layers(params)
        self.bn_momentum, self.bn_eps = bn_momentum, bn_eps
        self.params = {name: tf.Variable(value, name=name, trainable=name in spec.trainable(params))
                       for name, value in params.items()}

    @classmethod
    def from_canonical(cls, params, **options):
        return cls(params, **options)

    def to_canonical(self):
        return {name: tf.convert_to_tensor(variable) for name, variable in self.params.items()}

    def __call__(self, x, masks=None, *, training, p=0.0):
        P = self.params
        h = x
        for i in range(1, self.layers + 1):
            z = affine(h, P[f"W{i}"])
            h = relu(batch_norm(z, P[f"gamma{i}"], P[f"beta{i}"], P[f"running_mean{i}"], P[f"running_var{i}"],
                                training=training, eps=self.bn_eps))
            if training:
                mean, var = batch_norm_running_stats(z, P[f"running_mean{i}"], P[f"running_var{i}"],
                                                     momentum=self.bn_momentum)
                P[f"running_mean{i}"].assign(mean)
                P[f"running_var{i}"].assign(var)
                h = dropout(h, masks[i - 1], p=p)
        out = self.layers + 1
        return affine(h, P[f"W{out}"], P[f"b{out}"])

    def weights(self):
        return [variable for name, variable in self.params.items() if name.startswith("W")]


def predict(params, x, hyper):
    """Scores in inference mode: running statistics, no dropout."""
    return MultiLayerNet.from_canonical(params, bn_eps=hyper["bn_eps"])(x, training=False)


def _loss(model, batch, hyper):
    scores = model(batch["x"], batch["masks"], training=True, p=hyper["dropout"])
    decay = tf.add_n([l2_penalty(W, lam=hyper["weight_decay"]) for W in model.weights()])
    return softmax_with_loss(scores, batch["t"]) + decay


def _model(params, batch, hyper):
    """The framework's model holding the canonical `params`, set up for training."""
    return MultiLayerNet.from_canonical(params, bn_momentum=hyper["bn_momentum"], bn_eps=hyper["bn_eps"])


def loss(params, batch, hyper):
    """The training loss of the canonical `params`, forward only: the same function as
    numpy_impl's (the framework's model built from them, then its loss)."""
    return _loss(_model(params, batch, hyper), batch, hyper)


def train_step(params, opt_state, batch, hyper):
    spec.validate(params, opt_state, batch, hyper)
    model = _model(params, batch, hyper)
    names = spec.trainable(params)
    with tf.GradientTape() as tape:
        loss_value = _loss(model, batch, hyper)
    grads = dict(zip(names, tape.gradient(loss_value, [model.params[name] for name in names])))
    new_params = model.to_canonical()  # the running statistics the forward pass updated
    stepped, new_opt_state = optimizers.step_all(params, grads, opt_state, hyper["optimizer"], hyper["opt"])
    new_params.update(stepped)
    return loss_value, grads, new_params, new_opt_state
