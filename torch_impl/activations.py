"""Activation functions in PyTorch, from elementary torch ops (torch.softmax & co. are
the built-in oracles the parity engine checks these against)."""
import math

import torch

from shared.concepts import gelu as gelu_spec
from shared.concepts import identity as identity_spec
from shared.concepts import leaky_relu as leaky_relu_spec
from shared.concepts import log_softmax as log_softmax_spec
from shared.concepts import relu as relu_spec
from shared.concepts import sigmoid as sigmoid_spec
from shared.concepts import softmax as softmax_spec
from shared.concepts import step as step_spec
from shared.concepts import tanh as tanh_spec


def step(x):
    step_spec.validate(x)
    return (x > 0).to(x.dtype)  # a comparison has no autograd path: gradient 0


def sigmoid(x):
    sigmoid_spec.validate(x)
    # 1 / (1 + exp(-x)) as written gives exp(1000) = inf and, in autograd, inf / inf = nan
    # exp(-|x|) is safe, but |x| has autograd's derivative 0 at x = 0, which would make
    # s'(0) = 0 instead of 1/4: the where picks -x or x, each with its own derivative there
    e = torch.exp(torch.where(x >= 0, -x, x))
    return torch.where(x >= 0, 1 / (1 + e), e / (1 + e))


def tanh(x):
    tanh_spec.validate(x)
    return torch.tanh(x)


def relu(x):
    relu_spec.validate(x)
    # torch.where routes the gradient to x only where x > 0: 0 at x = 0, like the book;
    # x.clamp(min=0) would give 1 there and torch.maximum(x, 0) 0.5
    return torch.where(x > 0, x, torch.zeros_like(x))


def leaky_relu(x, *, negative_slope=0.01):
    leaky_relu_spec.validate(x, negative_slope=negative_slope)
    return torch.where(x > 0, x, negative_slope * x)


def gelu(x, *, approximate="none"):
    gelu_spec.validate(x, approximate=approximate)
    if approximate == "tanh":
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def identity(x):
    identity_spec.validate(x)
    return x.clone()


def softmax(x, *, axis=-1):
    softmax_spec.validate(x, axis=axis)
    # the max shift changes nothing mathematically; detached, it adds no rounding to the gradient
    e = torch.exp(x - x.amax(dim=axis, keepdim=True).detach())
    return e / e.sum(dim=axis, keepdim=True)


def log_softmax(x, *, axis=-1):
    log_softmax_spec.validate(x, axis=axis)
    shifted = x - x.amax(dim=axis, keepdim=True).detach()
    return shifted - torch.log(torch.exp(shifted).sum(dim=axis, keepdim=True))
