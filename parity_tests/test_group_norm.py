"""Group norm facts the generic parity run does not state on its own: its two limits
(groups = 1 is layer norm over (C, H, W), groups = C is instance norm) against
independent computations, the statistics of its output and its invariances. The hand-written
backward against central differences and autodiff is the engine's (the generic tests'
case bit-32-groups-64-channels), not repeated here."""
import numpy as np
import pytest

from numpy_impl import layers
from parity_tests.conftest import needs, param
from shared import backends
from shared.concepts import get

CONCEPT = get("group_norm")
RNG = np.random.default_rng(2018)


def _inputs(shape, rng=RNG):
    n, c, h, w = shape
    return (1.0 + 3.0 * rng.standard_normal(shape), 1 + 0.5 * rng.standard_normal(c),
            0.5 * rng.standard_normal(c))


def _call(backend, x, gamma, beta, **kwargs):
    """Run `backend`'s group_norm on float64 NumPy inputs; a NumPy result."""
    b = backends.get(backend)
    return b.call(b.impl(CONCEPT).forward, {"x": x, "gamma": gamma, "beta": beta}, kwargs, "cpu")


def _backend_params():
    for backend in backends.BACKEND_NAMES:
        yield param(backend, id=backend, backend=backend)


@pytest.mark.parametrize("backend", list(_backend_params()))
def test_one_group_is_layer_norm_over_channels_height_width(backend):
    x, gamma, beta = _inputs((3, 4, 2, 5))
    # layer norm written out independently: one mean and variance per sample
    flat = x.reshape(3, -1)
    mean = flat.mean(axis=1)[:, None, None, None]
    var = ((flat - flat.mean(axis=1, keepdims=True)) ** 2).mean(axis=1)[:, None, None, None]
    want = gamma[:, None, None] * (x - mean) / np.sqrt(var + 1e-5) + beta[:, None, None]
    np.testing.assert_allclose(_call(backend, x, gamma, beta, groups=1), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend", list(_backend_params()))
def test_one_channel_per_group_is_instance_norm(backend):
    x, gamma, beta = _inputs((3, 4, 2, 5))
    want = np.empty_like(x)
    for n in range(3):
        for c in range(4):
            plane = x[n, c]
            want[n, c] = gamma[c] * (plane - plane.mean()) / np.sqrt(plane.var() + 1e-5) + beta[c]
    np.testing.assert_allclose(_call(backend, x, gamma, beta, groups=4), want, rtol=1e-12, atol=1e-14)


@needs("torch")
def test_layer_norm_and_instance_norm_limits_agree_with_torch_builtins():
    import torch
    import torch.nn.functional as F
    x, gamma, beta = _inputs((3, 4, 2, 5))
    tx, tg, tb = (torch.from_numpy(a) for a in (x, gamma, beta))
    # F.layer_norm's affine parameters are elementwise over (C, H, W): ours is per channel
    layer = F.layer_norm(tx, (4, 2, 5), tg[:, None, None].expand(4, 2, 5), tb[:, None, None].expand(4, 2, 5),
                         eps=1e-5)
    instance = F.instance_norm(tx, weight=tg, bias=tb, eps=1e-5)
    np.testing.assert_allclose(layers.group_norm(x, gamma, beta, groups=1), layer.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layers.group_norm(x, gamma, beta, groups=4), instance.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend", list(_backend_params()))
def test_each_group_comes_out_with_mean_0_and_variance_var_over_var_plus_eps(backend):
    # gamma = 1, beta = 0 leave x_hat; per sample and group its mean is 0 and its variance
    # var / (var + eps): eps shrinks it noticeably only where var is comparable to eps
    x, _, _ = _inputs((2, 6, 3, 3))
    x[:, 2:4] *= 1e-3  # group 1: variance ~1e-5, the size of eps
    eps = 1e-5
    y = _call(backend, x, np.ones(6), np.zeros(6), groups=3, eps=eps)
    yg, xg = y.reshape(2, 3, -1), x.reshape(2, 3, -1)
    var = xg.var(axis=2)
    np.testing.assert_allclose(yg.mean(axis=2), 0, atol=1e-14)
    np.testing.assert_allclose(yg.var(axis=2), var / (var + eps), rtol=1e-12)
    assert np.all(yg.var(axis=2)[:, 1] < 0.95)  # the small group really is shrunk


@pytest.mark.parametrize("backend", list(_backend_params()))
def test_samples_are_normalised_independently_of_the_batch(backend):
    x, gamma, beta = _inputs((4, 8, 3, 3))
    whole = _call(backend, x, gamma, beta, groups=2)
    alone = _call(backend, x[2:3], gamma, beta, groups=2)
    np.testing.assert_allclose(alone[0], whole[2], rtol=1e-13, atol=1e-14)


def test_gradient_is_blind_to_a_shift_of_a_group_and_with_eps_0_to_its_scale():
    # y is unchanged when a sample's group is shifted by a constant, or (eps = 0) scaled:
    # dx sums to 0 over each group and is orthogonal to x - mean there
    x, gamma, beta = _inputs((2, 6, 3, 3))
    v = np.random.default_rng(8).standard_normal(x.shape)
    dx, _, dbeta = layers.group_norm_backward(v, x, gamma, beta, groups=3, eps=0.0)
    dxg, xg = dx.reshape(2, 3, -1), x.reshape(2, 3, -1)
    np.testing.assert_allclose(dxg.sum(axis=2), 0, atol=1e-12)
    np.testing.assert_allclose((dxg * (xg - xg.mean(axis=2, keepdims=True))).sum(axis=2), 0, atol=1e-12)
    np.testing.assert_allclose(dbeta, v.sum(axis=(0, 2, 3)), rtol=1e-14)


def _interleaved_groups(x, gamma, beta, *, groups, eps=1e-5):
    """A mutant: group g as channels g, g + G, g + 2G, ... (x.reshape(N, C/G, G, ...)),
    the mistake of reshaping the channel axis the wrong way round."""
    n, c, h, w = x.shape
    xg = x.reshape(n, c // groups, groups, h, w)
    mean = xg.mean(axis=(1, 3, 4), keepdims=True)
    var = xg.var(axis=(1, 3, 4), keepdims=True)
    x_hat = ((xg - mean) / np.sqrt(var + eps)).reshape(x.shape)
    return gamma[:, None, None] * x_hat + beta[:, None, None]


def _unbiased_variance(x, gamma, beta, *, groups, eps=1e-5):
    """A mutant: the group's variance with ddof=1 (torch's x.var() default)."""
    n, c, h, w = x.shape
    xg = x.reshape(n, groups, -1)
    mean = xg.mean(axis=2, keepdims=True)
    x_hat = ((xg - mean) / np.sqrt(xg.var(axis=2, ddof=1, keepdims=True) + eps)).reshape(x.shape)
    return gamma[:, None, None] * x_hat + beta[:, None, None]


@needs("torch")
@pytest.mark.parametrize("mutant", [_interleaved_groups, _unbiased_variance], ids=lambda f: f.__name__)
def test_the_engine_flags_a_wrong_grouping_or_variance(mutant):
    from shared import parity
    from shared.backends import Impl
    failed = set()
    for case in CONCEPT.cases:
        task = parity.Task(CONCEPT, case, "torch", "float64", "cpu")
        records = parity.run_task(task, reference_impl=Impl(mutant, layers.group_norm_backward))
        failed |= {(case.name, r.check) for r in records if not r.passed}
    # our torch version and F.group_norm both disagree with the mutant reference
    assert ("groups-3", "forward") in failed
    assert ("groups-3", "builtin:F.group_norm") in failed
    assert ("bit-32-groups-64-channels", "forward") in failed
    if mutant is _interleaved_groups:
        # one group, or one channel per group: both orders give the same groups
        assert not {f for f in failed if f[0] in ("groups-1-layer-norm", "groups-C-instance-norm")
                    and f[1] == "forward"}
