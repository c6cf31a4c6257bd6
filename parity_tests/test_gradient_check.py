"""The book's gradient_check (ゼロから作る 5.7.3) on the whole multi-layer net: every
gradient from our hand-written backpropagation against central differences of the loss,
in float64, on the digits with batch norm, dropout and weight decay all switched on."""
import numpy as np

from numpy_impl import mlp
from shared import training
from shared.concepts import get
from shared.parity import upcast

# Central differences with h = 1e-6 max(1, |w|) on a loss of ~2.5: rounding contributes
# ~eps |L| / h = 2.2e-16 * 2.5 / 1e-6 = 5.5e-10 per entry, truncation O(h^2) ~1e-12.
# The book prints the mean absolute difference per parameter (~1e-10 for its net):
MEAN_ABS_THRESHOLD = 1e-8  # 20x the rounding bound
MAX_ABS_THRESHOLD = 1e-7   # the engine's numeric tolerance (shared/tolerances.py)


def test_backpropagation_agrees_with_the_numerical_gradient_for_every_parameter():
    concept = get("mlp_train_step")
    inputs = upcast(concept.case("sgd").inputs())
    params, batch, hyper = inputs["params"], inputs["batches"][0], inputs["hyper"]
    _, grads, _ = mlp.gradients(params, batch, hyper)
    numeric = training.numeric_grads(concept, inputs, grads)
    assert set(grads) == {"W1", "W2", "W3", "b3", "gamma1", "beta1", "gamma2", "beta2"}
    for name, grad in grads.items():
        diff = np.abs(grad - numeric[name])
        assert diff.mean() < MEAN_ABS_THRESHOLD, f"{name}: mean |backprop - numerical| = {diff.mean():.1e}"
        assert diff.max() < MAX_ABS_THRESHOLD, f"{name}: max |backprop - numerical| = {diff.max():.1e}"
        assert np.abs(grad).max() > 1e-4, f"{name}: a vanishing gradient would pass trivially"
