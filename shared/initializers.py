"""Weight initialisers 重みの初期値, drawn from a seeded NumPy Generator.

Initial weights are part of a case's input, so all three frameworks start from the same
draws: they are NumPy arrays in canonical layout ([in, out] for an affine layer), loaded
into each framework with `from_canonical`. The frameworks' own defaults differ from
these and from each other (see parity_tests/test_initializers.py, which measures them):

  torch nn.Linear   kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)), std 1/sqrt(3 fan_in);
                    bias U(+-1/sqrt(fan_in))
  Keras Dense       glorot_uniform = U(+-sqrt(6/(fan_in + fan_out))), std sqrt(2/(fan_in + fan_out));
                    bias 0
  the book          Xavier: std 1/sqrt(fan_in) (Glorot & Bengio's simplified form);
                    He: std sqrt(2/fan_in), for ReLU; bias 0
"""
from __future__ import annotations

import numpy as np


def he_normal(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """N(0, 2/fan_in): keeps the variance of ReLU activations from layer to layer
    (He et al. 2015); the book's weight_init_std='he'."""
    return np.sqrt(2.0 / fan_in) * rng.standard_normal((fan_in, fan_out))


def xavier_normal(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """N(0, 1/fan_in), the book's 'Xavier' for sigmoid and tanh. (Keras' glorot_normal
    uses 2/(fan_in + fan_out), truncated at two standard deviations.)"""
    return np.sqrt(1.0 / fan_in) * rng.standard_normal((fan_in, fan_out))


def glorot_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """U(+-sqrt(6/(fan_in + fan_out))), Keras' default kernel initialiser."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out))
