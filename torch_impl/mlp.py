"""The book's multi-layer net as an idiomatic nn.Module, loaded from and saved to the
canonical parameter dict; autograd gives the gradients, torch_impl.optimizers the step."""
import torch
from torch import nn

from shared.concepts import mlp_train_step as spec
from shared.concepts.batch_norm import BOOK_EPS
from torch_impl import optimizers
from torch_impl.activations import relu
from torch_impl.layers import batch_norm, batch_norm_running_stats, dropout
from torch_impl.losses import softmax_with_loss
from torch_impl.regularizers import l2_penalty


class BatchNorm(nn.Module):
    """Batch norm over the features of [N, C] input, with the book's running statistics.
    (nn.BatchNorm1d would average the unbiased batch variance: porting case
    bn-running-variance-unbiased.)"""

    def __init__(self, features, momentum, eps, **factory):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.gamma = nn.Parameter(torch.ones(features, **factory))
        self.beta = nn.Parameter(torch.zeros(features, **factory))
        self.register_buffer("running_mean", torch.zeros(features, **factory))
        self.register_buffer("running_var", torch.ones(features, **factory))

    def forward(self, z):
        y = batch_norm(z, self.gamma, self.beta, self.running_mean, self.running_var,
                       training=self.training, eps=self.eps)
        if self.training:
            self.running_mean, self.running_var = batch_norm_running_stats(
                z, self.running_mean, self.running_var, momentum=self.momentum)
        return y


class MultiLayerNet(nn.Module):
    def __init__(self, sizes, *, bn_momentum=0.9, bn_eps=BOOK_EPS, **factory):
        super().__init__()
        # weights come from the canonical dict: skip_init leaves out the random draw
        self.hidden = nn.ModuleList(nn.utils.skip_init(nn.Linear, n_in, n_out, bias=False, **factory)
                                    for n_in, n_out in zip(sizes[:-2], sizes[1:-1]))
        self.norms = nn.ModuleList(BatchNorm(n, bn_momentum, bn_eps, **factory) for n in sizes[1:-1])
        self.out = nn.utils.skip_init(nn.Linear, sizes[-2], sizes[-1], **factory)

    def forward(self, x, masks=None, *, p=0.0):
        """Scores; in training mode each hidden layer drops units by its injected mask."""
        h = x
        for i, (linear, norm) in enumerate(zip(self.hidden, self.norms)):
            h = relu(norm(linear(h)))
            if self.training:
                h = dropout(h, masks[i], p=p)
        return self.out(h)

    @classmethod
    def from_canonical(cls, params, *, bn_momentum=0.9, bn_eps=BOOK_EPS):
        """Canonical W is [in, out]; nn.Linear keeps weight [out, in]: transposed here."""
        layers = spec.hidden_layers(params)
        sizes = [params["W1"].shape[0]] + [params[f"W{i}"].shape[1] for i in range(1, layers + 2)]
        W1 = params["W1"]
        model = cls(sizes, bn_momentum=bn_momentum, bn_eps=bn_eps, dtype=W1.dtype, device=W1.device)
        with torch.no_grad():
            for i, (linear, norm) in enumerate(zip(model.hidden, model.norms), start=1):
                linear.weight.copy_(params[f"W{i}"].T)
                norm.gamma.copy_(params[f"gamma{i}"])
                norm.beta.copy_(params[f"beta{i}"])
                norm.running_mean.copy_(params[f"running_mean{i}"])
                norm.running_var.copy_(params[f"running_var{i}"])
            model.out.weight.copy_(params[f"W{layers + 1}"].T)
            model.out.bias.copy_(params[f"b{layers + 1}"])
        return model

    def _canonical(self, value):
        """{canonical name: value(tensor)} for every parameter and running statistic."""
        params = {}
        for i, (linear, norm) in enumerate(zip(self.hidden, self.norms), start=1):
            params[f"W{i}"] = value(linear.weight).T
            params[f"gamma{i}"], params[f"beta{i}"] = value(norm.gamma), value(norm.beta)
        out = len(self.hidden) + 1
        params[f"W{out}"], params[f"b{out}"] = value(self.out.weight).T, value(self.out.bias)
        return params

    def to_canonical(self):
        params = self._canonical(lambda t: t.detach().clone())
        for i, norm in enumerate(self.norms, start=1):
            params[f"running_mean{i}"] = norm.running_mean.clone()
            params[f"running_var{i}"] = norm.running_var.clone()
        return params

    def canonical_grads(self):
        return self._canonical(lambda t: t.grad)

    def weights(self):
        return [linear.weight for linear in self.hidden] + [self.out.weight]


def predict(params, x, hyper):
    """Scores in inference mode: running statistics, no dropout."""
    model = MultiLayerNet.from_canonical(params, bn_eps=hyper["bn_eps"]).eval()
    with torch.no_grad():
        return model(x)


def _loss(model, batch, hyper):
    scores = model(batch["x"], batch["masks"], p=hyper["dropout"])
    decay = sum(l2_penalty(W, lam=hyper["weight_decay"]) for W in model.weights())
    return softmax_with_loss(scores, batch["t"]) + decay


def _model(params, batch, hyper):
    """The framework's model holding the canonical `params`, set up for training."""
    return MultiLayerNet.from_canonical(params, bn_momentum=hyper["bn_momentum"], bn_eps=hyper["bn_eps"]).train()


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
    new_params = model.to_canonical()  # the running statistics the forward pass updated
    stepped, new_opt_state = optimizers.step_all(params, grads, opt_state, hyper["optimizer"], hyper["opt"])
    new_params.update(stepped)
    return loss_value.detach(), grads, new_params, new_opt_state
