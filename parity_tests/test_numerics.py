"""Scale before squaring (numpy_impl/torch_impl/tf_impl numerics.py): the norm, p-norm and
standard deviation in float32 at tiny, ordinary and 1e30-sized values, each against the
closed form in float64; and bit for bit the plain formula at ordinary sizes, since dividing
by a power of two changes no digit."""
import numpy as np
import pytest

from parity_tests.conftest import param
from shared import backends

# rows of small integers: every closed form below is exact in float64 up to its last
# rounding, and the tiny and huge copies are exact in float32 (2^-83 and 2^100 ranges)
ROWS = np.array([[3.0, -4.0, 0.0, 12.0], [1.0, 1.0, -1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
SIZES = (1e-25, 1.0, 1e30)  # 1e-25: squares underflow in float32 (tiny 1.2e-38); 1e30: they overflow (max 3.4e38)
EPS = 1e-5
# float32: a sum of 4 squares, a root and one division by s: a few ulps (2^-24 = 6e-8 each)
RTOL = 1e-6


def _numerics(backend):
    b = backends.get(backend)
    module = {"numpy": "numpy_impl", "torch": "torch_impl", "tf": "tf_impl"}[backend]
    return b, __import__(f"{module}.numerics", fromlist=["numerics"])


def _as_numpy(backend, value):
    return np.asarray(value if backend == "numpy" else value.numpy())


BACKENDS = [param(name, id=name, backend=name) for name in backends.BACKEND_NAMES]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s:g}")
def test_norms_in_float32_equal_the_float64_closed_form(backend, size):
    b, numerics = _numerics(backend)
    x = (ROWS * size).astype(np.float32)
    exact = ROWS.astype(np.float64) * size
    arg = b.convert({"x": x}, "cpu")["x"]
    expected = {"norm": np.sqrt((exact ** 2).sum(axis=1)),                  # 13, 2, 0 times size
                "p_norm 3": (np.abs(exact) ** 3).sum(axis=1) ** (1 / 3)}
    got = {"norm": numerics.norm(arg, 1), "p_norm 3": numerics.p_norm(arg, 3, 1)}
    for name in expected:
        np.testing.assert_allclose(_as_numpy(backend, got[name]), expected[name], rtol=RTOL, err_msg=name)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s:g}")
@pytest.mark.parametrize("eps", (EPS, 0.0), ids=("eps", "no-eps"))
def test_std_in_float32_equals_the_float64_closed_form(backend, size, eps):
    b, numerics = _numerics(backend)
    centred = ROWS - ROWS.mean(axis=1, keepdims=True)  # quarters: exact in both dtypes
    x = (centred * size).astype(np.float32)
    exact = centred * size
    # at 1e-25 without eps the all-zero row's std is 0 and the others' 1e-25-sized: the form
    # must neither give inf (s^2 underflowing under eps) nor NaN (0 / 0)
    expected = np.sqrt((exact ** 2).mean(axis=1, keepdims=True) + eps)
    got = numerics.std(b.convert({"x": x}, "cpu")["x"], (1,) if backend != "tf" else [1], eps)
    np.testing.assert_allclose(_as_numpy(backend, got), expected, rtol=RTOL)


def _plain(backend):
    """sqrt(mean(c^2) + eps) and sqrt(sum(c^2)) along axis 1, unscaled, in the backend's own
    operations (each framework sums in its own order, so only its own plain form is bitwise)."""
    if backend == "numpy":
        return (lambda c: np.sqrt((c * c).mean(axis=1, keepdims=True) + EPS),
                lambda c: np.sqrt((c * c).sum(axis=1)))
    if backend == "torch":
        import torch
        return (lambda c: torch.sqrt((c * c).mean(dim=1, keepdim=True) + EPS),
                lambda c: torch.sqrt((c * c).sum(dim=1)))
    import tensorflow as tf
    return (lambda c: tf.sqrt(tf.reduce_mean(c * c, axis=1, keepdims=True) + EPS),
            lambda c: tf.sqrt(tf.reduce_sum(c * c, axis=1)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_ordinary_values_give_the_plain_formula_bit_for_bit(backend):
    b, numerics = _numerics(backend)
    x = np.random.default_rng(0).normal(size=(5, 7)).astype(np.float32)
    centred = b.convert({"x": x - x.mean(axis=1, keepdims=True)}, "cpu")["x"]
    plain_std, plain_norm = _plain(backend)
    np.testing.assert_array_equal(_as_numpy(backend, numerics.std(centred, (1,) if backend != "tf" else [1], EPS)),
                                  _as_numpy(backend, plain_std(centred)))
    np.testing.assert_array_equal(_as_numpy(backend, numerics.norm(centred, 1)),
                                  _as_numpy(backend, plain_norm(centred)))
