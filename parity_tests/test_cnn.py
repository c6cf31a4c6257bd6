"""The book's SimpleConvNet: weight converters that round-trip exactly and put every weight
in its framework's own layout, and the book's gradient_check (ゼロから作る 5.7.3) on the
whole network in float64."""
import numpy as np
import pytest

from numpy_impl import cnn
from parity_tests.conftest import machine_skip, needs
from shared import parity, training
from shared.concepts import cnn_train_step as spec
from shared.concepts import get
from shared.parity import upcast

HYPER = {"stride": 1, "pad": 1}
# not square, so that a height/width mix-up in the flatten order cannot go unseen:
# 3 filters over 1 x 8 x 6 images -> pooled 3 x 4 x 3 = 36 rows of W2
IMAGE = (1, 8, 6)
FMAP = (3, 4, 3)
PARAMS = spec.init_params(np.random.default_rng(5), 3, 3, 7, image=IMAGE, **HYPER)
# distinct entries everywhere: a misplaced value changes what a comparison sees
PARAMS = {name: value + 0.01 * np.arange(value.size).reshape(value.shape) for name, value in PARAMS.items()}


def _torch():
    import torch
    from torch_impl.cnn import SimpleConvNet
    return torch, SimpleConvNet


def _tf():
    import tensorflow as tf
    from tf_impl.cnn import SimpleConvNet
    return tf, SimpleConvNet


def test_the_pooled_feature_map_has_the_size_of_the_books_formula():
    # OH = (H + 2P - FH) / S + 1 = (8 + 2 - 3) / 1 + 1 = 8, then 2x2 pooling halves it;
    # with no padding (the book's SimpleConvNet) 8 -> 6 -> 3
    assert spec.feature_shape(6, 3, (8, 8), 1, 1) == (6, 4, 4)
    assert spec.feature_shape(30, 3, (8, 8), 1, 0) == (30, 3, 3)
    assert spec.feature_shape(*FMAP[:1], 3, IMAGE[1:], 1, 1) == FMAP
    assert PARAMS["W2"].shape == (36, 7)


@needs("torch")
@pytest.mark.parametrize("dtype", parity.DTYPES)
def test_torch_round_trip_is_exact_conv_weights_stay_oihw_and_linear_weights_are_transposed(dtype):
    torch, SimpleConvNet = _torch()
    params = {k: torch.from_numpy(v.astype(dtype)) for k, v in PARAMS.items()}
    model = SimpleConvNet.from_canonical(params, HYPER)
    assert torch.equal(model.conv.weight, params["W1"])  # nn.Conv2d keeps [out, in, kh, kw]
    assert model.hidden.weight.shape == (7, 36)          # nn.Linear keeps [out, in]
    assert torch.equal(model.hidden.weight, params["W2"].T)
    back = model.to_canonical()
    assert set(back) == set(params)
    assert all(back[k].dtype == params[k].dtype and torch.equal(back[k], params[k]) for k in params)


@needs("tf")
@pytest.mark.parametrize("dtype", parity.DTYPES)
def test_tf_round_trip_is_exact(dtype):
    tf, SimpleConvNet = _tf()
    params = {k: tf.constant(v.astype(dtype)) for k, v in PARAMS.items()}
    back = SimpleConvNet.from_canonical(params, HYPER, IMAGE[1:]).to_canonical()
    assert set(back) == set(params)
    assert all(back[k].dtype == params[k].dtype and np.array_equal(back[k].numpy(), params[k].numpy())
               for k in params)


@needs("tf")
def test_tf_holds_the_kernel_hwio_and_the_dense_rows_in_nhwc_flatten_order():
    tf, SimpleConvNet = _tf()
    model = SimpleConvNet.from_canonical({k: tf.constant(v) for k, v in PARAMS.items()}, HYPER, IMAGE[1:])
    kernel, dense = model.params["W1"].numpy(), model.params["W2"].numpy()
    W1, W2 = PARAMS["W1"], PARAMS["W2"]
    # the expected positions by index arithmetic, not by the converters under test
    for o, i, kh, kw in np.ndindex(W1.shape):
        assert kernel[kh, kw, i, o] == W1[o, i, kh, kw]
    channels, height, width = FMAP
    for c, h, w in np.ndindex(FMAP):
        nchw_row = (c * height + h) * width + w  # the book's reshape, torch's flatten(1)
        nhwc_row = (h * width + w) * channels + c  # tf.reshape of NHWC, Keras' Flatten
        assert np.array_equal(dense[nhwc_row], W2[nchw_row])


@needs("torch", "tf")
def test_all_three_networks_compute_the_same_scores_on_non_square_images():
    torch, _ = _torch()
    tf, _ = _tf()
    from tf_impl import cnn as tf_cnn
    from torch_impl import cnn as torch_cnn
    x = np.random.default_rng(6).random((4, *IMAGE))
    want = cnn.predict(PARAMS, x, HYPER)
    got_torch = torch_cnn.predict({k: torch.from_numpy(v) for k, v in PARAMS.items()}, torch.from_numpy(x), HYPER)
    got_tf = tf_cnn.predict({k: tf.constant(v) for k, v in PARAMS.items()}, tf.constant(x), HYPER)
    # float64, sums of <= 36 products of O(1) terms: the forward table's 1e-12 relative;
    # a flatten in the wrong order would be off by O(1)
    np.testing.assert_allclose(got_torch.numpy(), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_tf.numpy(), want, rtol=1e-12, atol=1e-12)


@needs("tf")
def test_tf_gradients_come_back_in_canonical_layout():
    tf, SimpleConvNet = _tf()
    model = SimpleConvNet.from_canonical({k: tf.constant(v) for k, v in PARAMS.items()}, HYPER, IMAGE[1:])
    x = tf.constant(np.random.default_rng(7).random((5, *IMAGE)))
    cotangent = tf.constant(np.random.default_rng(8).standard_normal((5, 10)))  # a random cotangent
    names = list(model.params)
    with tf.GradientTape() as tape:
        scores = model(x)
    grads = model.canonical_grads(dict(zip(names, tape.gradient(scores, [model.params[n] for n in names],
                                                                 output_gradients=cotangent))))
    assert {k: tuple(g.shape) for k, g in grads.items()} == {k: v.shape for k, v in PARAMS.items()}


# Central differences with h = 1e-6 max(1, |w|) on a loss of ~2.3: rounding contributes
# ~eps |L| / h = 2.2e-16 * 2.3 / 1e-6 = 5e-10 per entry, truncation O(h^2) ~1e-12.
MEAN_ABS_THRESHOLD = 1e-8  # 20x the rounding bound
MAX_ABS_THRESHOLD = 1e-7   # the engine's numeric tolerance (shared/tolerances.py)


def test_cnn_backpropagation_agrees_with_the_numerical_gradient_for_every_parameter():
    concept = get("cnn_train_step")
    inputs = upcast(concept.case("adam").inputs())
    params, batch, hyper = inputs["params"], inputs["batches"][0], inputs["hyper"]
    _, grads = cnn._gradients(params, batch, hyper)
    # the engine's numeric:<param> computation: central differences of numpy_impl.cnn.loss
    numeric = training.numeric_grads(concept, inputs, grads)
    assert set(grads) == set(spec.PARAM_NAMES)
    for name, grad in grads.items():
        diff = np.abs(grad - numeric[name])
        assert diff.mean() < MEAN_ABS_THRESHOLD, f"{name}: mean |backprop - numerical| = {diff.mean():.1e}"
        assert diff.max() < MAX_ABS_THRESHOLD, f"{name}: max |backprop - numerical| = {diff.max():.1e}"
        assert np.abs(grad).max() > 1e-3, f"{name}: a vanishing gradient would pass trivially"


def test_max_pool_backward_that_spreads_the_gradient_is_flagged(monkeypatch):
    # average pooling's backward (dy / 4 to every pixel of the window) in place of max
    # pooling's (dy to the window's max only): the forward is untouched
    from numpy_impl import pooling
    from shared import parity
    monkeypatch.setattr(cnn, "max_pool2d_backward",
                        lambda dy, x, kernel, stride: pooling.avg_pool2d_backward(dy, x, kernel, stride=stride))
    concept = get("cnn_train_step")
    case = concept.case("sgd")
    records = parity.run_task(parity.Task(concept, case, "numpy", "float64", "cpu"))
    assert {r.check for r in records if not r.passed} == {"numeric:W1", "numeric:b1"}
    if not machine_skip("torch"):
        records = parity.run_task(parity.Task(concept, case, "torch", "float64", "cpu"))
        failed = {r.check for r in records if not r.passed}
        assert {"grad:W1", "grad:b1", "loss@10", "param@10:W1"} <= failed
        assert {"loss@1", "grad:W2", "grad:W3"}.isdisjoint(failed)  # everything after the pooling is right


@needs("tf")
def test_a_keras_port_that_keeps_the_canonical_dense_rows_is_flagged(monkeypatch):
    # the port a reader writes first: HWIO kernel, but W2 loaded as it is under an NHWC
    # flatten, so each row meets the wrong feature
    _tf()
    from shared import layouts, parity
    from tf_impl import cnn as tf_cnn
    monkeypatch.setattr(tf_cnn, "_to_tf_layout", lambda p, fmap: {**p, "W1": layouts.oihw_to_hwio(p["W1"])})
    monkeypatch.setattr(tf_cnn, "_to_canonical_layout", lambda p, fmap: {**p, "W1": layouts.hwio_to_oihw(p["W1"])})
    concept = get("cnn_train_step")
    records = parity.run_task(parity.Task(concept, concept.case("sgd"), "tf", "float64", "cpu"))
    failed = {r.check for r in records if not r.passed}
    assert {"loss@1", "grad:W1", "grad:W2"} <= failed
