"""Activation functions in TensorFlow, from elementary tf ops (tf.nn.softmax & co. are
the built-in oracles the parity engine checks these against)."""
import math

import tensorflow as tf

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
    return tf.cast(x > 0, x.dtype)  # a comparison has no gradient path: gradient 0


def sigmoid(x):
    sigmoid_spec.validate(x)
    # 1 / (1 + exp(-x)) as written gives exp(1000) = inf and a nan gradient
    # exp(-|x|) is safe, but tf.abs has the derivative 0 at x = 0, which would make
    # s'(0) = 0 instead of 1/4: the where picks -x or x, each with its own derivative there
    e = tf.exp(tf.where(x >= 0, -x, x))
    return tf.where(x >= 0, 1 / (1 + e), e / (1 + e))


def tanh(x):
    tanh_spec.validate(x)
    return tf.tanh(x)


def relu(x):
    relu_spec.validate(x)
    # tf.where routes the gradient to x only where x > 0: 0 at x = 0, like the book;
    # tf.maximum(x, 0) would give 1 there (its gradient sends ties to the first argument)
    return tf.where(x > 0, x, tf.zeros_like(x))


def leaky_relu(x, *, negative_slope=0.01):
    leaky_relu_spec.validate(x, negative_slope=negative_slope)
    return tf.where(x > 0, x, negative_slope * x)


def gelu(x, *, approximate="none"):
    gelu_spec.validate(x, approximate=approximate)
    if approximate == "tanh":
        return 0.5 * x * (1 + tf.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + tf.math.erf(x / math.sqrt(2)))


def identity(x):
    identity_spec.validate(x)
    return tf.identity(x)


def softmax(x, *, axis=-1):
    softmax_spec.validate(x, axis=axis)
    # the max shift changes nothing mathematically; without a gradient it adds no rounding
    e = tf.exp(x - tf.stop_gradient(tf.reduce_max(x, axis=axis, keepdims=True)))
    return e / tf.reduce_sum(e, axis=axis, keepdims=True)


def log_softmax(x, *, axis=-1):
    log_softmax_spec.validate(x, axis=axis)
    shifted = x - tf.stop_gradient(tf.reduce_max(x, axis=axis, keepdims=True))
    return shifted - tf.math.log(tf.reduce_sum(tf.exp(shifted), axis=axis, keepdims=True))
