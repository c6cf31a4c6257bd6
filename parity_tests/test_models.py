"""from_canonical / to_canonical are the weight converters: a round trip is exact, and
inside each framework the weights sit in that framework's own layout."""
import numpy as np
import pytest

from parity_tests.conftest import needs
from shared import parity
from shared.concepts import mlp_train_step as spec

PARAMS = spec.init_params(np.random.default_rng(3), (64, 8, 6, 10))
PARAMS = {name: value + 0.01 * np.arange(value.size).reshape(value.shape) for name, value in PARAMS.items()}


def _torch():
    import torch
    from torch_impl.mlp import MultiLayerNet
    return torch, MultiLayerNet


def _tf():
    import tensorflow as tf
    from tf_impl.mlp import MultiLayerNet
    return tf, MultiLayerNet


@needs("torch")
@pytest.mark.parametrize("dtype", parity.DTYPES)
def test_torch_round_trip_is_exact_and_linear_weights_are_transposed(dtype):
    torch, MultiLayerNet = _torch()
    params = {k: torch.from_numpy(v.astype(dtype)) for k, v in PARAMS.items()}
    model = MultiLayerNet.from_canonical(params)
    assert model.hidden[0].weight.shape == (8, 64)  # nn.Linear keeps [out, in]
    assert torch.equal(model.hidden[0].weight, params["W1"].T)
    assert model.norms[1].running_var.dtype == params["running_var2"].dtype
    back = model.to_canonical()
    assert set(back) == set(params)
    assert all(torch.equal(back[k], params[k]) for k in params)


@needs("tf")
@pytest.mark.parametrize("dtype", parity.DTYPES)
def test_tf_round_trip_is_exact_and_variables_follow_the_canonical_names(dtype):
    tf, MultiLayerNet = _tf()
    params = {k: tf.constant(v.astype(dtype)) for k, v in PARAMS.items()}
    model = MultiLayerNet.from_canonical(params)
    trainable = {v.name.split(":")[0] for v in model.trainable_variables}
    assert trainable == set(spec.trainable(PARAMS))  # running statistics are not trainable
    back = model.to_canonical()
    assert set(back) == set(params)
    assert all(np.array_equal(back[k].numpy(), params[k].numpy()) for k in params)


@needs("torch")
def test_torch_gradients_come_back_in_canonical_layout():
    torch, MultiLayerNet = _torch()
    params = {k: torch.from_numpy(v) for k, v in PARAMS.items()}
    model = MultiLayerNet.from_canonical(params).train()
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((5, 64)))
    masks = [torch.ones(5, 8, dtype=torch.float64), torch.ones(5, 6, dtype=torch.float64)]
    model(x, masks).backward(torch.from_numpy(rng.standard_normal((5, 10))))  # a random cotangent
    grads = model.canonical_grads()
    assert {k: tuple(g.shape) for k, g in grads.items()} == {k: PARAMS[k].shape for k in spec.trainable(PARAMS)}
