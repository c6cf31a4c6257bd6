"""The metric-learning embedding network as an nn.Module, loaded from the canonical
parameter dict; autograd gives the gradients, torch_impl.optimizers the step.

Siamese シャムネットワーク: ONE module embeds both images of a pair, so autograd
accumulates both branches' gradients into the same .grad (the sum).
The contract is in shared/concepts/metric_train_step.py."""
import torch
from torch import nn

from shared.concepts import metric_train_step as spec
from torch_impl import mining, optimizers
from torch_impl.activations import relu
from torch_impl.metric import contrastive_loss

MINING = {"batch_all": mining.triplet_batch_all, "batch_hard": mining.triplet_batch_hard,
          "semi_hard": mining.triplet_semi_hard}


class EmbeddingNet(nn.Module):
    def __init__(self, sizes, *, normalize, **factory):
        super().__init__()
        features, hidden, embedding = sizes
        # weights come from the canonical dict: skip_init leaves out the random draw
        self.fc1 = nn.utils.skip_init(nn.Linear, features, hidden, **factory)
        # b2 only with the normalisation (see the spec's docstring)
        self.fc2 = nn.utils.skip_init(nn.Linear, hidden, embedding, bias=normalize, **factory)
        self.normalize = normalize

    def forward(self, x):
        e = self.fc2(relu(self.fc1(x)))
        if self.normalize:
            e = e / torch.clamp(torch.linalg.vector_norm(e, dim=1, keepdim=True), min=spec.NORM_FLOOR)
        return e

    @classmethod
    def from_canonical(cls, params, *, normalize):
        """Canonical W is [in, out]; nn.Linear keeps weight [out, in]: transposed here."""
        W1, W2 = params["W1"], params["W2"]
        model = cls((W1.shape[0], W1.shape[1], W2.shape[1]), normalize=normalize, dtype=W1.dtype, device=W1.device)
        with torch.no_grad():
            model.fc1.weight.copy_(W1.T)
            model.fc1.bias.copy_(params["b1"])
            model.fc2.weight.copy_(W2.T)
            if normalize:
                model.fc2.bias.copy_(params["b2"])
        return model

    def canonical_grads(self):
        grads = {"W1": self.fc1.weight.grad.T, "b1": self.fc1.bias.grad, "W2": self.fc2.weight.grad.T}
        if self.normalize:
            grads["b2"] = self.fc2.bias.grad
        return grads


def embed(params, x, hyper):
    model = EmbeddingNet.from_canonical(params, normalize=hyper["normalize"])
    with torch.no_grad():
        return model(x)


def _loss(model, batch, hyper):
    kwargs = spec.loss_kwargs(hyper)
    if hyper["loss"] == "contrastive":
        # the same model twice: shared weights, gradients summed by autograd
        return contrastive_loss(model(batch["x1"]), model(batch["x2"]), batch["y"], **kwargs)
    return MINING[hyper["loss"]](model(batch["x"]), batch["labels"], **kwargs)


def _model(params, batch, hyper):
    """The framework's model holding the canonical `params`, set up for training."""
    return EmbeddingNet.from_canonical(params, normalize=hyper["normalize"])


def loss(params, batch, hyper):
    """The training loss of the canonical `params`, forward only: the same function as
    numpy_impl's (the framework's model built from them, then its loss)."""
    return _loss(_model(params, batch, hyper), batch, hyper)


def train_step(params, opt_state, batch, hyper):
    spec.validate(params, opt_state, batch, hyper)
    model = _model(params, batch, hyper)
    loss_value = _loss(model, batch, hyper)
    loss_value.backward()
    grads = model.canonical_grads()
    new_params, new_opt_state = optimizers.step_all(params, grads, opt_state, hyper["optimizer"], hyper["opt"])
    return loss_value.detach(), grads, new_params, new_opt_state
