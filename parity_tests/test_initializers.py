"""Initial weights: ours match their formulas, and the frameworks' defaults differ from
them by the amounts the shared/initializers.py docstring states, measured here.

A standard deviation estimated from n draws has a relative standard error of about
1/sqrt(2n); every check allows 5 of those (n = 256 x 256: 5 x 0.0014 = 0.7%)."""
import math

import numpy as np
import pytest

from parity_tests.conftest import needs
from shared import initializers

FAN_IN, FAN_OUT = 256, 256
N = FAN_IN * FAN_OUT
SAMPLING = 5 / math.sqrt(2 * N)  # 5 standard errors of a standard deviation estimate


def _std_ratio(w, expected):
    return float(np.std(w)) / expected


@pytest.mark.parametrize("name, expected", [
    ("he_normal", math.sqrt(2 / FAN_IN)),
    ("xavier_normal", math.sqrt(1 / FAN_IN)),
    ("glorot_uniform", math.sqrt(2 / (FAN_IN + FAN_OUT))),
])
def test_our_initialisers_have_their_standard_deviation(name, expected):
    w = getattr(initializers, name)(np.random.default_rng(0), FAN_IN, FAN_OUT)
    assert w.shape == (FAN_IN, FAN_OUT)  # canonical [in, out]
    assert abs(_std_ratio(w, expected) - 1) < SAMPLING
    assert abs(float(np.mean(w))) < 5 * expected / math.sqrt(N)


def test_the_same_seed_gives_the_same_weights_in_every_framework_run():
    a = initializers.he_normal(np.random.default_rng(7), 4, 3)
    b = initializers.he_normal(np.random.default_rng(7), 4, 3)
    assert np.array_equal(a, b)


@needs("torch")
def test_torch_linear_default_is_not_he():
    import torch
    torch.manual_seed(0)
    layer = torch.nn.Linear(FAN_IN, FAN_OUT)
    # kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)): std 1/sqrt(3 fan_in), 0.41 of He's
    w = layer.weight.detach().numpy()
    assert abs(_std_ratio(w, 1 / math.sqrt(3 * FAN_IN)) - 1) < SAMPLING
    assert abs(_std_ratio(w, math.sqrt(2 / FAN_IN)) - 1 / math.sqrt(6)) < SAMPLING
    bias = layer.bias.detach().numpy()
    assert np.abs(bias).max() <= 1 / math.sqrt(FAN_IN) and np.abs(bias).max() > 0  # not zero, unlike Keras


@needs("torch")
def test_torch_kaiming_normal_is_he():
    import torch
    torch.manual_seed(0)
    w = torch.empty(FAN_OUT, FAN_IN)  # torch's [out, in]: fan_in is dimension 1
    torch.nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert abs(_std_ratio(w.numpy(), math.sqrt(2 / FAN_IN)) - 1) < SAMPLING


@needs("tf")
def test_keras_dense_default_is_glorot_uniform_with_zero_bias():
    import keras
    layer = keras.layers.Dense(FAN_OUT)
    layer.build((None, FAN_IN))
    kernel, bias = (np.asarray(v) for v in layer.get_weights())
    assert abs(_std_ratio(kernel, math.sqrt(2 / (FAN_IN + FAN_OUT))) - 1) < SAMPLING
    assert np.abs(kernel).max() <= math.sqrt(6 / (FAN_IN + FAN_OUT))
    assert not bias.any()


@needs("tf")
def test_keras_he_normal_is_truncated_but_keeps_he_std():
    import keras
    w = np.asarray(keras.initializers.HeNormal(seed=0)((FAN_IN, FAN_OUT)))
    assert abs(_std_ratio(w, math.sqrt(2 / FAN_IN)) - 1) < SAMPLING
    # truncated at 2 standard deviations of the underlying normal (std / 0.8796):
    # no draw beyond 2 / 0.8796 = 2.27 x He's std, where an untruncated normal has 2.3%
    # (1 + 1e-6): the draws are float32, the bound is computed in float64
    assert np.abs(w).max() <= 2 / 0.87962566103423978 * math.sqrt(2 / FAN_IN) * (1 + 1e-6)
