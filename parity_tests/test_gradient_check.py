"""The book's gradient_check (ゼロから作る 5.7.3) on the whole multi-layer net: every
gradient from our hand-written backpropagation against central differences of the loss,
in float64, on the digits with batch norm, dropout and weight decay all switched on."""
import dataclasses

import numpy as np

from numpy_impl import mlp
from shared import training
from shared.concepts import get
from shared.parity import central_differences, upcast

# Central differences with h = 1e-6 max(1, |w|) on a loss of ~2.5: rounding contributes
# ~eps |L| / h = 2.2e-16 * 2.5 / 1e-6 = 5.5e-10 per entry, truncation O(h^2) ~1e-12.
# The book prints the mean absolute difference per parameter (~1e-10 for its net):
MEAN_ABS_THRESHOLD = 1e-8  # 20x the rounding bound
MAX_ABS_THRESHOLD = 1e-7   # the engine's numeric tolerance (shared/tolerances.py)


def test_backpropagation_agrees_with_the_numerical_gradient_for_every_parameter():
    concept = get("mlp_train_step")
    inputs = upcast(concept.case("sgd").inputs())
    params, batch, hyper = inputs["params"], inputs["batches"][0], inputs["hyper"]
    _, grads, _ = mlp._gradients(params, batch, hyper)
    numeric = training.numeric_grads(concept, inputs, grads)
    assert set(grads) == {"W1", "W2", "W3", "b3", "gamma1", "beta1", "gamma2", "beta2"}
    for name, grad in grads.items():
        diff = np.abs(grad - numeric[name])
        assert diff.mean() < MEAN_ABS_THRESHOLD, f"{name}: mean |backprop - numerical| = {diff.mean():.1e}"
        assert diff.max() < MAX_ABS_THRESHOLD, f"{name}: max |backprop - numerical| = {diff.max():.1e}"
        assert np.abs(grad).max() > 1e-4, f"{name}: a vanishing gradient would pass trivially"


def test_sampled_central_differences_are_the_full_ones_at_those_entries():
    # a concept with numeric_entries differences only some entries of each array: the values
    # there must be exactly the full check's, and the entries the same on every run
    rng = np.random.default_rng(3)
    w = rng.standard_normal((5, 7))
    A = rng.standard_normal((7, 5))

    def f(v):
        return float(np.sum(np.tanh(v @ A)))

    full = central_differences(f, w)
    concept = dataclasses.replace(get("bit_train_step"), numeric_entries=6)
    entries = training.numeric_entries(concept, "W", w.size)
    assert len(set(entries)) == 6 and list(entries) == sorted(entries)
    np.testing.assert_array_equal(entries, training.numeric_entries(concept, "W", w.size))
    np.testing.assert_array_equal(central_differences(f, w, entries), full.reshape(-1)[entries])
    assert training.numeric_entries(concept, "b", 6) is None  # no fewer than all: every entry
    assert training.numeric_entries(get("mlp_train_step"), "W1", w.size) is None  # the default: all
