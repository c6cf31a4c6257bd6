"""DCGAN's generator and discriminator: the DCGAN init, the dict-of-parameters helpers a
train step uses, the generator's gradient through the discriminator against central
differences, and mutants the parity checks must flag."""
import numpy as np

from numpy_impl import gan
from numpy_impl.losses import binary_cross_entropy, binary_cross_entropy_backward
from parity_tests.conftest import needs
from shared import parity
from shared.concepts import _gan as spec
from shared.concepts import get


def _params(seed=0, z_dim=8):
    return spec.init_params(np.random.default_rng(seed), z_dim)


def test_init_is_dcgans_and_sized_for_the_digits():
    params = _params()
    G, D = params["G"], params["D"]
    assert tuple(G) == spec.GENERATOR_PARAMS and tuple(D) == spec.DISCRIMINATOR_PARAMS
    assert {k: v.shape for k, v in G.items()} == {
        "W_fc": (8, 32), "b_fc": (32,), "W_t1": (8, 4, 4, 4), "gamma1": (4,), "beta1": (4,),
        "W_t2": (4, 1, 4, 4), "b_t2": (1,)}
    assert {k: v.shape for k, v in D.items()} == {
        "W_c1": (4, 1, 4, 4), "b_c1": (4,), "W_c2": (8, 4, 4, 4), "b_c2": (8,), "W_fc": (32, 1), "b_fc": (1,)}
    big = spec.init_generator(np.random.default_rng(1), 64, 64, 32)["W_t1"]  # 65,536 draws
    # N(0, 0.02): the sample std of 65,536 draws is within 1% of 0.02 (its std is ~0.3%)
    assert abs(big.std() - 0.02) < 2e-4 and abs(big.mean()) < 2e-4
    assert np.all(G["b_fc"] == 0) and np.all(G["beta1"] == 0) and np.all(D["b_c1"] == 0)
    assert np.all(np.abs(G["gamma1"] - 1) < 0.1)  # gamma ~ N(1, 0.02)


def test_a_model_is_its_dict_generator_to_discriminator_on_the_digits():
    from shared.data import digits
    params = _params()
    z = np.random.default_rng(2).standard_normal((6, 8))
    fake = gan.generator(z, **params["G"])
    assert fake.shape == (6, 1, 8, 8) and np.all(np.abs(fake) < 1)  # tanh's range, the real images' range
    real = spec.images(digits().x_train[:6])
    assert real.shape == (6, 1, 8, 8) and real.min() == -1 and real.max() == 1
    assert gan.discriminator(fake, **params["D"]).shape == (6,)
    assert gan.discriminator(real, **params["D"]).shape == (6,)


def test_the_dict_helpers_return_the_backward_under_the_parameter_names():
    params = _params()
    rng = np.random.default_rng(3)
    z, dy = rng.standard_normal((4, 8)), rng.standard_normal((4, 1, 8, 8))
    dz, grads = gan._generator_grads(dy, z, params["G"])
    flat = gan.generator_backward(dy, z, **params["G"])
    assert np.array_equal(dz, flat[0]) and list(grads) == list(spec.GENERATOR_PARAMS)
    assert all(np.array_equal(grads[k], g) for k, g in zip(spec.GENERATOR_PARAMS, flat[1:]))
    assert all(grads[k].shape == v.shape for k, v in params["G"].items())
    x = np.tanh(rng.standard_normal((4, 1, 8, 8)))
    dx, grads = gan._discriminator_grads(rng.standard_normal(4), x, params["D"])
    assert dx.shape == x.shape and list(grads) == list(spec.DISCRIMINATOR_PARAMS)
    assert all(grads[k].shape == v.shape for k, v in params["D"].items())


def test_the_batch_norm_uses_the_batchs_statistics():
    # training mode: an image depends on the other noise vectors of its batch
    params = _params()
    z = np.random.default_rng(4).standard_normal((8, 8))
    whole, half = gan.generator(z, **params["G"]), gan.generator(z[:4], **params["G"])
    assert not np.allclose(whole[:4], half)


# The generator's loss in a non-saturating GAN, -log D(G(z)): BCE on the logits with
# label 1, differentiated through the discriminator into every generator parameter.
def _generator_loss(G, D, z):
    return binary_cross_entropy(gan.discriminator(gan.generator(z, **G), **D), np.ones(len(z)), from_logits=True)


def test_the_generator_gradient_through_the_discriminator_agrees_with_central_differences():
    # O(1) weights as in the parity cases (DCGAN's 0.02 would make every gradient tiny)
    G = get("gan_generator").case("n4-z8-c8-c4").inputs()
    z = G.pop("z")
    D = get("gan_discriminator").case("n4-f4-f8").inputs()
    D.pop("x")
    logits = gan.discriminator(gan.generator(z, **G), **D)
    dlogits = binary_cross_entropy_backward(1.0, logits, np.ones(len(z)), from_logits=True)
    dimages, _ = gan._discriminator_grads(dlogits, gan.generator(z, **G), D)
    dz, grads = gan._generator_grads(dimages, z, G)
    numeric = {}
    for name in G:
        numeric[name] = parity.central_differences(lambda w, name=name: _generator_loss({**G, name: w}, D, z), G[name])
    numeric_z = parity.central_differences(lambda v: _generator_loss(G, D, v), z)
    # a loss of ~0.7 with h = 1e-6: rounding ~eps |L| / h = 1.6e-10, truncation O(h^2):
    # the engine's numeric tolerance, 1e-7 absolute, leaves 600x
    np.testing.assert_allclose(dz, numeric_z, rtol=0, atol=1e-7)
    for name, grad in grads.items():
        np.testing.assert_allclose(grad, numeric[name], rtol=0, atol=1e-7, err_msg=name)
        assert np.abs(grad).max() > 1e-4, f"{name}: a vanishing gradient would pass trivially"


def test_a_batch_norm_backward_that_treats_the_batch_statistics_as_constants_is_flagged(monkeypatch):
    # inference mode's backward (dx = gamma dy / std) in training mode: the forward is untouched
    real = gan.batch_norm_backward

    def constants(dy, x, gamma, beta, rm, rv, *, training, eps):
        _, dgamma, dbeta = real(dy, x, gamma, beta, rm, rv, training=training, eps=eps)
        std = np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + eps)
        return dy * gamma.reshape(1, -1, 1, 1) / std, dgamma, dbeta

    monkeypatch.setattr(gan, "batch_norm_backward", constants)
    concept = get("gan_generator")
    records = parity.run_task(parity.Task(concept, concept.case("n4-z8-c8-c4"), "numpy", "float64", "cpu"))
    failed = {r.check for r in records if not r.passed}
    # everything before the batch norm; gamma1, beta1 and the layer after it are right
    assert failed == {"numeric:z", "numeric:W_fc", "numeric:b_fc", "numeric:W_t1"}


@needs("tf")
def test_a_keras_port_that_keeps_the_canonical_dense_rows_is_flagged(monkeypatch):
    from tf_impl import gan as tf_gan
    # the port a reader writes first: HWIO kernels, but W_fc loaded as it is under the NHWC flatten
    monkeypatch.setattr(tf_gan.layouts, "dense_rows_chw_to_hwc", lambda W, c, h, w: W)
    concept = get("gan_discriminator")
    records = parity.run_task(parity.Task(concept, concept.case("n4-f4-f8"), "tf", "float64", "cpu"))
    failed = {r.check for r in records if not r.passed}
    assert {"forward", "grad:W_fc", "grad:W_c2"} <= failed
