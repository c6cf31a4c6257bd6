"""Weight-standardised convolution facts the generic parity run does not state on its own:
the statistics of the standardised filters, agreement with conv2d on an independently
standardised kernel, invariance to a filter's scale (and where eps breaks it), the bias
gradient the engine does not differentiate, the hand-written backward against central
differences on nearly constant filters (with a step the engine's h = 1e-6 is too coarse
for), and the eps claims of the porting cases."""
import numpy as np
import pytest

from numpy_impl import conv
from parity_tests.conftest import param
from shared import backends
from shared.concepts import get

CONCEPT = get("std_conv2d")
RNG = np.random.default_rng(2020)


def _inputs(x_shape, w_shape, rng=RNG):
    fan_in = w_shape[1] * w_shape[2] * w_shape[3]
    return rng.standard_normal(x_shape), (0.3 + rng.standard_normal(w_shape)) / np.sqrt(fan_in)


def _module(backend):
    return backends.get(backend).impl(CONCEPT).forward.__module__


def _call(backend, fn_name, inputs, **kwargs):
    """Run `backend`'s conv-module function on float64 NumPy inputs; a NumPy result."""
    import importlib
    b = backends.get(backend)
    fn = getattr(importlib.import_module(_module(backend)), fn_name)
    return b.call(fn, inputs, kwargs, "cpu")


def _backend_params():
    for backend in backends.BACKEND_NAMES:
        yield param(backend, id=backend, backend=backend)


def _standardized_by_loops(w, eps):
    """w_hat written out one filter at a time, with the two-pass variance in plain Python sums."""
    w_hat = np.empty_like(w)
    for o in range(w.shape[0]):
        values = w[o].ravel().tolist()
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / len(values)  # biased: divide by K
        w_hat[o] = (w[o] - mean) / np.sqrt(var + eps)
    return w_hat


@pytest.mark.parametrize("backend", list(_backend_params()))
def test_standardised_filters_have_mean_0_and_variance_var_over_var_plus_eps(backend):
    _, w = _inputs((1, 3, 5, 5), (4, 3, 3, 3))
    w[2] = 3e-5 + 1e-5 * RNG.standard_normal((3, 3, 3))  # var ~ 1e-10: eps shrinks this one
    eps = 1e-10
    w_hat = _call(backend, "weight_standardize", {"w": w}, eps=eps).reshape(4, -1)
    var = w.reshape(4, -1).var(axis=1)
    np.testing.assert_allclose(w_hat.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(w_hat.var(axis=1), var / (var + eps), rtol=1e-10)
    assert w_hat.var(axis=1)[2] < 0.7 and np.all(np.delete(w_hat.var(axis=1), 2) > 1 - 1e-8)


@pytest.mark.parametrize("backend", list(_backend_params()))
def test_std_conv2d_is_conv2d_with_an_independently_standardised_kernel(backend):
    x, w = _inputs((2, 3, 7, 7), (4, 3, 3, 3))
    b = RNG.standard_normal(4)
    for eps in (1e-10, 1e-5):
        want = conv.conv2d(x, _standardized_by_loops(w, eps), b, stride=2, padding=1)
        got = _call(backend, "std_conv2d", {"x": x, "w": w, "b": b}, stride=2, padding=1, eps=eps)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", list(_backend_params()))
def test_scaling_a_filter_leaves_the_output_unchanged_until_its_variance_nears_eps(backend):
    x, w = _inputs((2, 3, 6, 6), (4, 3, 3, 3))
    base = _call(backend, "std_conv2d", {"x": x, "w": w}, padding=1)
    scaled = w.copy()
    scaled[1] *= 7.3
    scaled[3] *= 0.5
    # var ~ 1/27 per filter (>= 0.015 for these draws): eps changes w_hat's scale by eps / (2 c^2 var)
    # <= 1e-10 / (2 * 0.25 * 0.015) ~ 1.3e-8 relative
    assert (w.reshape(4, -1).var(axis=1) > 0.015).all()
    got = _call(backend, "std_conv2d", {"x": x, "w": scaled}, padding=1)
    np.testing.assert_allclose(got, base, rtol=3e-8, atol=1e-10)
    # with eps = 0 the output is exactly scale invariant (up to rounding) at any scale
    tiny = w * 1e-6
    np.testing.assert_allclose(_call(backend, "std_conv2d", {"x": x, "w": tiny}, padding=1, eps=0.0),
                               _call(backend, "std_conv2d", {"x": x, "w": w}, padding=1, eps=0.0),
                               rtol=1e-10, atol=1e-11)
    # ... but with eps = 1e-10 a filter scaled to var ~ eps is shrunk by sqrt(var / (var + eps))
    var = (w * 1e-4).reshape(4, -1).var(axis=1)  # ~ 4e-10 .. 1e-9
    shrunk = _call(backend, "std_conv2d", {"x": x, "w": w * 1e-4}, padding=1)
    np.testing.assert_allclose(shrunk, base * np.sqrt(var / (var + 1e-10)).reshape(1, 4, 1, 1),
                               rtol=1e-8, atol=1e-10)
    assert np.all(np.sqrt(var / (var + 1e-10)) < 0.99)


def _central_differences(f, a, h):
    """d f / d a by central differences with a fixed absolute step h."""
    a = a.astype(np.float64).copy()
    grad = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        original = a[i]
        a[i] = original + h
        up = f(a)
        a[i] = original - h
        down = f(a)
        a[i] = original
        grad[i] = (up - down) / (2 * h)
    return grad


def test_backward_agrees_with_central_differences_on_nearly_constant_filters():
    # the spec's near-constant case, whose numeric:w the engine skips: spreads 5e-6..2e-5
    inputs = CONCEPT.case("near-constant-filter").inputs()
    x, w, b = inputs["x"], inputs["w"], inputs["b"]
    v = np.random.default_rng(11).standard_normal((2, 3, 5, 5))  # a random cotangent: <y, v> is the scalar
    dx, dw, db = conv.std_conv2d_backward(v, x, w, b, padding=1)

    def inner_product(a):
        return float(np.sum(conv.std_conv2d(x, a, b, padding=1) * v))

    # h = 1e-11: truncation ~ (h / 1.1e-5)^2 ~ 1e-12 relative; cancellation ~ 1e-16 |f| / h ~ 1e-4
    # absolute on gradients ~ 1e5..1e6, i.e. ~1e-9 relative to the largest
    numeric = _central_differences(inner_product, w, 1e-11)
    scale = np.abs(dw).max()
    assert scale > 1e4  # 1 / sqrt(var + eps) is ~ 1e5: the gradient really is large
    np.testing.assert_allclose(dw, numeric, atol=1e-7 * scale, rtol=1e-6)
    np.testing.assert_allclose(db, v.sum(axis=(0, 2, 3)), rtol=1e-14)


def test_weight_gradient_is_blind_to_a_filter_shift_and_with_eps_0_to_its_scale():
    # w_hat is unchanged by w[o] + c, and (eps = 0) by c w[o]: per filter dw sums to 0 and
    # is orthogonal to w[o] - mean
    x, w = _inputs((2, 3, 6, 6), (4, 3, 3, 3))
    v = RNG.standard_normal((2, 4, 6, 6))
    _, dw = conv.std_conv2d_backward(v, x, w, padding=1, eps=0.0)
    dwf, wf = dw.reshape(4, -1), w.reshape(4, -1)
    np.testing.assert_allclose(dwf.sum(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose((dwf * (wf - wf.mean(axis=1, keepdims=True))).sum(axis=1), 0, atol=1e-12)


@pytest.mark.parametrize("backend", [param(b, id=b, backend=b) for b in [b for b in backends.BACKEND_NAMES if b != "numpy"]])
def test_autodiff_gradients_including_the_bias_equal_the_hand_written_backward(backend):
    x, w = _inputs((2, 3, 7, 7), (4, 3, 3, 3))
    b = RNG.standard_normal(4)
    v = RNG.standard_normal((2, 4, 4, 4))
    kw = {"stride": 2, "padding": 1}
    back = backends.get(backend)
    _, grads = back.vjp(back.impl(CONCEPT), {"x": x, "w": w, "b": b}, kw, ("x", "w", "b"), v, "cpu")
    for name, want in zip(("x", "w", "b"), conv.std_conv2d_backward(v, x, w, b, **kw)):
        np.testing.assert_allclose(grads[name], want, rtol=1e-12, atol=1e-12, err_msg=name)


def test_bit_and_timm_eps_agree_below_float32_resolution_on_ordinary_filters():
    # He-initialised 3x3 filters over 8..256 channels: var ~ 2 / K >= 1e-3. eps 1e-8 vs 1e-10
    # rescales w_hat by ~ (1e-8 - 1e-10) / (2 var) <= 5e-6 (ViT-pytorch's 1e-5: ~5e-3)
    rng = np.random.default_rng(5)
    for channels in (8, 64, 256):
        k = channels * 9
        x = rng.standard_normal((1, channels, 5, 5)) / np.sqrt(k)
        w = rng.standard_normal((4, channels, 3, 3)) * np.sqrt(2 / k)
        bit = conv.std_conv2d(x, w, padding=1, eps=1e-10)
        scale = np.abs(bit).max()
        timm = np.abs(conv.std_conv2d(x, w, padding=1, eps=1e-8) - bit).max() / scale
        vit = np.abs(conv.std_conv2d(x, w, padding=1, eps=1e-5) - bit).max() / scale
        assert timm < 1e-5 < vit, (channels, timm, vit)


def test_bit_and_timm_eps_differ_by_several_times_on_a_nearly_constant_filter():
    # the porting case ws-eps-near-constant-filter in float64: var ~ 1e-10
    x = RNG.standard_normal((1, 3, 5, 5))
    w = 3e-5 + 1e-5 * RNG.standard_normal((1, 3, 3, 3))
    ratio = (np.abs(conv.std_conv2d(x, w, eps=1e-10)).max() / np.abs(conv.std_conv2d(x, w, eps=1e-8)).max())
    var = w.var()
    np.testing.assert_allclose(ratio, np.sqrt((var + 1e-8) / (var + 1e-10)), rtol=1e-10)
    assert ratio > 3
