"""Our dropout takes its mask from the caller, so it cannot be compared with the
frameworks' dropout draw for draw. Instead: read each framework's mask back from its own
output and check that our dropout, given that mask, reproduces the output exactly; this
pins down what p means (drop, not keep) and the inverted 1/(1 - p) scaling."""
import numpy as np

from numpy_impl.layers import dropout
from parity_tests.conftest import needs

X = np.random.default_rng(0).uniform(0.5, 1.5, (50, 40)).astype(np.float32)  # no zeros: a 0 output means dropped
P = 0.3


def _check(y):
    mask = (y != 0).astype(np.float32)
    assert 0.25 < 1 - mask.mean() < 0.35, "about p = 0.3 of the units are dropped"
    np.testing.assert_allclose(y, dropout(X, mask, p=P), rtol=2e-7, atol=0)  # one float32 rounding of x / (1 - p)


@needs("torch")
def test_torch_dropout_is_inverted_dropout_with_drop_probability_p():
    import torch
    torch.manual_seed(0)
    _check(torch.nn.functional.dropout(torch.from_numpy(X), p=P, training=True).numpy())


@needs("tf")
def test_keras_dropout_is_inverted_dropout_with_drop_rate():
    import keras
    _check(np.asarray(keras.layers.Dropout(rate=P, seed=0)(X, training=True)))
