"""The metric-learning losses (距離学習) where their distance has no derivative or a
convention matters: x1 == x2 in contrastive_loss (対照損失), a == p in triplet_loss
(トリプレット損失) at torch's default eps, and which label means "similar"."""
import numpy as np
import pytest

from parity_tests.conftest import machine_skip, needs
from shared import backends, lazy, parity, tolerances
from shared.backends import Impl
from shared.concepts import get

BACKENDS = [pytest.param(name, marks=[m] if (m := machine_skip(name)) else [], id=name)
            for name in backends.BACKEND_NAMES]
F64_GRAD = tolerances.lookup("float64", "cpu", "grad")


def _vjp(backend_name, concept, inputs, kwargs, cotangent):
    backend = backends.get(backend_name)
    impl = backend.impl(concept)
    return backend.vjp(impl, inputs, kwargs, concept.differentiable, cotangent, "cpu")


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_contrastive_gradient_at_x1_equals_x2_is_the_finite_subgradient_0(backend_name):
    concept = get("contrastive_loss")
    case = concept.case("identical-pairs")
    inputs = case.inputs()
    v = parity.cotangent_for(case.seed, (), "float64")
    _, grads = _vjp(backend_name, concept, inputs, case.kwargs, v)
    _, want = _vjp("numpy", concept, inputs, case.kwargs, v)
    for name in ("x1", "x2"):
        assert np.isfinite(grads[name]).all(), f"{backend_name}: non-finite gradient of {name} at d = 0"
        # rows 0 (similar) and 1 (dissimilar) have x1 == x2: gradient exactly 0 in every framework
        assert np.array_equal(grads[name][:2], np.zeros_like(grads[name][:2]))
        assert parity.compare(grads[name], want[name], F64_GRAD).passed


def _torch_default_triplet_grads(inputs, v):
    torch_backend = backends.get("torch")
    fn = Impl(lambda a, p, n: lazy.torch().nn.functional.triplet_margin_loss(a, p, n))
    return torch_backend.vjp(fn, inputs, {}, ("a", "p", "n"), v, "cpu")


@needs("torch", why="torch's triplet_margin_loss is the reference here")
@pytest.mark.parametrize("dtype", parity.DTYPES)
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_triplet_gradient_at_a_equals_p_with_default_eps_is_finite_and_torchs(backend_name, dtype):
    concept = get("triplet_loss")
    case = concept.case("anchor-equals-positive")  # its inputs, but torch's default eps = 1e-6
    inputs = parity.cast_inputs(case.inputs(), dtype)
    assert np.array_equal(inputs["a"][:2], inputs["p"][:2])
    v = parity.cotangent_for(case.seed, (), dtype)
    out, grads = _vjp(backend_name, concept, inputs, {}, v)
    want_out, want = _torch_default_triplet_grads(parity.upcast(inputs), v)
    tol = tolerances.lookup(dtype, "cpu", "grad")
    assert parity.compare(out, want_out, tolerances.lookup(dtype, "cpu", "forward")).passed
    for name in ("a", "p", "n"):
        assert np.isfinite(grads[name]).all(), f"{backend_name}: non-finite gradient of {name} at a == p"
        result = parity.compare(grads[name], want[name], tol)
        assert result.passed, f"{backend_name} grad {name}: max abs err {result.max_abs_err:.2e}"


def test_contrastive_label_1_means_similar():
    from numpy_impl.metric import contrastive_loss
    x1 = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    x2 = np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 4.0], [0.6, 0.8]])  # d = 0, 5, 5, 1
    y = np.array([1.0, 1.0, 0.0, 0.0])
    per_pair = contrastive_loss(x1, x2, y, margin=2.0, reduction="none")
    # similar pairs pay 1/2 d^2; a dissimilar pair pays only inside the margin: 1/2 (2 - 1)^2
    np.testing.assert_allclose(per_pair, [0.0, 12.5, 0.0, 0.5], rtol=1e-15, atol=0)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_cosine_distance_of_a_zero_embedding_is_finite(backend_name):
    concept = get("contrastive_loss")
    rng = np.random.default_rng(620)
    inputs = {"x1": rng.standard_normal((3, 4)), "x2": rng.standard_normal((3, 4)), "y": np.array([1.0, 0.0, 1.0])}
    inputs["x1"][0] = 0.0  # no direction: the norm floor makes its cosine 0 instead of 0/0
    kwargs = {"distance": "cosine", "margin": 1.5}
    v = parity.cotangent_for(620, (), "float64")
    out, grads = _vjp(backend_name, concept, inputs, kwargs, v)
    want_out, want = _vjp("numpy", concept, inputs, kwargs, v)
    assert np.isfinite(out) and all(np.isfinite(g).all() for g in grads.values())
    assert parity.compare(out, want_out, tolerances.lookup("float64", "cpu", "forward")).passed
    for name in ("x1", "x2"):
        assert parity.compare(grads[name], want[name], F64_GRAD).passed
