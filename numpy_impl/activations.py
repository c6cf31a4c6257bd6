"""Activation functions 活性化関数 and softmax, with their hand-written backward passes.

Each `<name>_backward(dy, x, ...)` returns dL/dx given dy = dL/dy: the chain rule for
one node of the computational graph 計算グラフ.
"""
import math

import numpy as np
from scipy.special import erf

from shared.concepts import gelu as gelu_spec
from shared.concepts import leaky_relu as leaky_relu_spec
from shared.concepts import log_softmax as log_softmax_spec
from shared.concepts import relu as relu_spec
from shared.concepts import sigmoid as sigmoid_spec
from shared.concepts import softmax as softmax_spec
from shared.concepts import step as step_spec
from shared.concepts import tanh as tanh_spec
from shared.concepts import identity as identity_spec


def step(x):
    step_spec.validate(x)
    return (x > 0).astype(x.dtype)


def step_backward(dy, x):
    # flat on both sides of 0 and undefined at 0: the gradient is 0 almost everywhere,
    # which is why the perceptron's step could not be trained by backpropagation
    return np.zeros_like(x)


def sigmoid(x):
    sigmoid_spec.validate(x)
    # 1 / (1 + exp(-x)), written so that exp never sees a large positive argument
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_backward(dy, x):
    y = sigmoid(x)
    return dy * y * (1 - y)  # f'(x) = f(x) (1 - f(x))


def tanh(x):
    tanh_spec.validate(x)
    return np.tanh(x)


def tanh_backward(dy, x):
    y = np.tanh(x)
    return dy * (1 - y ** 2)


def relu(x):
    relu_spec.validate(x)
    return np.maximum(x, 0)


def relu_backward(dy, x):
    # the book's mask = (x <= 0): at exactly 0 the gradient is 0, as torch.relu and
    # tf.nn.relu also choose
    mask = x <= 0
    dx = dy.copy()
    dx[mask] = 0
    return dx


def leaky_relu(x, *, negative_slope=0.01):
    leaky_relu_spec.validate(x, negative_slope=negative_slope)
    return np.where(x > 0, x, negative_slope * x)


def leaky_relu_backward(dy, x, *, negative_slope=0.01):
    return np.where(x > 0, dy, negative_slope * dy)


# Python floats, not NumPy scalars: under NumPy 2 a np.float64 scalar turns a float32 array into float64
SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
GELU_TANH_C = 0.044715


def gelu(x, *, approximate="none"):
    gelu_spec.validate(x, approximate=approximate)
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(SQRT_2_OVER_PI * (x + GELU_TANH_C * x ** 3)))
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))  # x * Phi(x), Phi the normal CDF


def gelu_backward(dy, x, *, approximate="none"):
    if approximate == "tanh":
        t = np.tanh(SQRT_2_OVER_PI * (x + GELU_TANH_C * x ** 3))
        dt = (1 - t ** 2) * SQRT_2_OVER_PI * (1 + 3 * GELU_TANH_C * x ** 2)
        return dy * (0.5 * (1 + t) + 0.5 * x * dt)
    cdf = 0.5 * (1 + erf(x / math.sqrt(2)))
    pdf = np.exp(-0.5 * x ** 2) / math.sqrt(2 * math.pi)
    return dy * (cdf + x * pdf)  # d/dx x Phi(x) = Phi(x) + x phi(x)


def identity(x):
    identity_spec.validate(x)
    return x.copy()


def identity_backward(dy, x):
    return dy.copy()


def softmax(x, *, axis=-1):
    softmax_spec.validate(x, axis=axis)
    # softmax(x) = softmax(x - c) for any c; with c = max, exp never overflows
    # (softmax([1010, 1000, 990]) would otherwise be inf / inf = nan)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(dy, x, *, axis=-1):
    y = softmax(x, axis=axis)
    # dx_i = y_i (dy_i - sum_j dy_j y_j): the Jacobian diag(y) - y y^T applied to dy
    return y * (dy - np.sum(dy * y, axis=axis, keepdims=True))


def log_softmax(x, *, axis=-1):
    log_softmax_spec.validate(x, axis=axis)
    shifted = x - x.max(axis=axis, keepdims=True)
    # log(softmax(x)) would underflow to log(0) = -inf for very negative entries
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def log_softmax_backward(dy, x, *, axis=-1):
    y = softmax(x, axis=axis)
    return dy - y * np.sum(dy, axis=axis, keepdims=True)
