"""The book's SimpleConvNet as an idiomatic nn.Module, loaded from and saved to the
canonical parameter dict; autograd gives the gradients, torch_impl.optimizers the step."""
import torch
from torch import nn

from shared.concepts import cnn_train_step as spec
from torch_impl import optimizers
from torch_impl.activations import relu
from torch_impl.losses import softmax_with_loss


class SimpleConvNet(nn.Module):
    def __init__(self, channels, filters, kernel, features, hidden, classes, *, stride, pad, **factory):
        super().__init__()
        # weights come from the canonical dict: skip_init leaves out the random draw
        self.conv = nn.utils.skip_init(nn.Conv2d, channels, filters, kernel, stride=stride, padding=pad, **factory)
        self.pool = nn.MaxPool2d(spec.POOL, stride=spec.POOL)
        self.hidden = nn.utils.skip_init(nn.Linear, features, hidden, **factory)
        self.out = nn.utils.skip_init(nn.Linear, hidden, classes, **factory)

    def forward(self, x):
        h = self.pool(relu(self.conv(x)))
        # flatten(1) of NCHW is the canonical (C, H, W) order of W2's rows: nothing to reorder
        return self.out(relu(self.hidden(h.flatten(1))))

    @classmethod
    def from_canonical(cls, params, hyper):
        """nn.Conv2d keeps its weight OIHW, the canonical layout: copied as it is.
        nn.Linear keeps weight [out, in]: the canonical W [in, out] transposed."""
        filters, channels, kernel, _ = params["W1"].shape
        (features, hidden), classes = params["W2"].shape, params["W3"].shape[1]
        W1 = params["W1"]
        model = cls(channels, filters, kernel, features, hidden, classes, stride=hyper["stride"], pad=hyper["pad"],
                    dtype=W1.dtype, device=W1.device)
        with torch.no_grad():
            model.conv.weight.copy_(W1)
            model.conv.bias.copy_(params["b1"])
            model.hidden.weight.copy_(params["W2"].T)
            model.hidden.bias.copy_(params["b2"])
            model.out.weight.copy_(params["W3"].T)
            model.out.bias.copy_(params["b3"])
        return model

    def _canonical(self, value):
        """{canonical name: value(tensor)} for every parameter."""
        return {"W1": value(self.conv.weight), "b1": value(self.conv.bias),
                "W2": value(self.hidden.weight).T, "b2": value(self.hidden.bias),
                "W3": value(self.out.weight).T, "b3": value(self.out.bias)}

    def to_canonical(self):
        return self._canonical(lambda t: t.detach().clone())

    def canonical_grads(self):
        return self._canonical(lambda t: t.grad)


def predict(params, x, hyper):
    model = SimpleConvNet.from_canonical(params, hyper).eval()
    with torch.no_grad():
        return model(x)


def _loss(model, batch, hyper):
    return softmax_with_loss(model(batch["x"]), batch["t"])


def _model(params, batch, hyper):
    """The framework's model holding the canonical `params`, set up for training."""
    return SimpleConvNet.from_canonical(params, hyper).train()


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
