"""The multi-head attention converters of shared/layouts.py: round trips exact in all three
packages' tensor types, and the frameworks' own layers load what they produce (names, shapes,
and the same outputs as our multi_head_attention)."""
import numpy as np
import pytest

from parity_tests.conftest import needs
from shared import layouts

D, HEADS = 8, 2


def _params(dtype="float64"):
    rng = np.random.default_rng(22)
    return {name: rng.standard_normal((D, D) if name[0] == "W" else D).astype(dtype) for name in layouts.MHA_PARAMS}


def _as(kind, tree):
    """The same arrays as NumPy arrays, torch tensors or TF tensors."""
    if kind == "numpy":
        return tree
    if kind == "torch":
        import torch
        convert = torch.from_numpy
    else:
        from shared import lazy
        convert = lazy.tf().constant
    if isinstance(tree, dict):
        return {k: convert(v) for k, v in tree.items()}
    return [convert(v) for v in tree]


KINDS = ["numpy", pytest.param("torch", marks=needs("torch")), pytest.param("tf", marks=needs("tf"))]


@pytest.mark.parametrize("kind", KINDS)
def test_torch_round_trip_is_exact(kind):
    params = _params()
    back = layouts.mha_from_torch(layouts.mha_to_torch(_as(kind, params)))
    assert list(back) == list(layouts.MHA_PARAMS)
    for name, value in params.items():
        assert np.array_equal(np.asarray(back[name]), value), name


@pytest.mark.parametrize("kind", KINDS)
def test_keras_round_trip_is_exact(kind):
    params = _params()
    weights = layouts.mha_to_keras(_as(kind, params), HEADS)
    assert [tuple(w.shape) for w in weights] == [(D, HEADS, D // HEADS), (HEADS, D // HEADS)] * 3 + [
        (HEADS, D // HEADS, D), (D,)]
    back = layouts.mha_from_keras(weights, HEADS)
    for name, value in params.items():
        assert np.array_equal(np.asarray(back[name]), value), name


def test_torch_packs_the_transposed_projections_in_q_k_v_order():
    params = _params()
    state = layouts.mha_to_torch(params)
    assert np.array_equal(state["in_proj_weight"][D:2 * D], params["Wk"].T)  # nn.Linear keeps [out, in]
    assert np.array_equal(state["in_proj_bias"][2 * D:], params["bv"])


@needs("torch")
def test_nn_multihead_attention_loads_the_state_dict_strictly_and_gives_our_output():
    import torch

    from torch_impl import attention
    params = _params()
    module = torch.nn.MultiheadAttention(D, HEADS, batch_first=True, dtype=torch.float64)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in layouts.mha_to_torch(params).items()}, strict=True)
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((2, 5, D)))
    theirs, weights = module(x, x, x, average_attn_weights=False)
    ours, our_weights = attention.multi_head_attention(x, x, x, _as("torch", params), num_heads=HEADS)
    # float64, the same products in another order: a few ulp of O(1) values
    assert torch.allclose(theirs, ours, rtol=1e-12, atol=1e-13) and torch.allclose(weights, our_weights, atol=1e-14)
    back = layouts.mha_from_torch({k: v.detach().numpy() for k, v in module.state_dict().items()})
    assert all(np.array_equal(back[k], params[k]) for k in params)


@needs("tf")
def test_keras_multihead_attention_takes_the_weights_in_get_weights_order():
    import keras

    params = _params("float32")
    layer = keras.layers.MultiHeadAttention(HEADS, key_dim=D // HEADS)
    x = np.random.default_rng(1).standard_normal((2, 5, D)).astype("float32")
    layer(x, x)
    layer.set_weights(layouts.mha_to_keras(params, HEADS))
    back = layouts.mha_from_keras(layer.get_weights(), HEADS)
    assert all(np.array_equal(back[k], params[k]) for k in params)


def test_a_torch_attention_with_separate_kdim_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="q_proj_weight, k_proj_weight and v_proj_weight"):
        layouts.mha_from_torch({"q_proj_weight": np.ones((D, D))})


def test_keras_weights_without_biases_are_refused():
    with pytest.raises(ValueError, match="expected the 8 weights of a MultiHeadAttention with biases, got 4"):
        layouts.mha_from_keras([np.ones((D, HEADS, 4))] * 4, HEADS)


def _layer_params(kind):
    from shared.concepts import _transformer
    sublayers = _transformer.ENCODER if kind == "encoder" else _transformer.DECODER
    return _transformer.init_params(np.random.default_rng(23), D, 2 * D, sublayers)


def _leaves(tree, prefix=""):
    from shared.trees import flatten
    return flatten(tree, prefix)


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
@pytest.mark.parametrize("framework", KINDS)
def test_layer_round_trips_through_torch_names_are_exact(kind, framework):
    params = _layer_params(kind)
    to, back = getattr(layouts, f"{kind}_layer_to_torch"), getattr(layouts, f"{kind}_layer_from_torch")
    converted = to({k: _as(framework, v) if isinstance(v, dict) else _as(framework, {"a": v})["a"]
                    for k, v in params.items()})
    again = _leaves(back(converted))
    assert again.keys() == _leaves(params).keys()
    assert all(np.array_equal(np.asarray(again[path]), value) for path, value in _leaves(params).items())


@needs("torch")
@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_torch_transformer_layers_load_the_state_dict_strictly(kind):
    import torch
    layer = {"encoder": torch.nn.TransformerEncoderLayer, "decoder": torch.nn.TransformerDecoderLayer}[kind]
    module = layer(D, HEADS, dim_feedforward=2 * D, batch_first=True, dtype=torch.float64)
    state = getattr(layouts, f"{kind}_layer_to_torch")(_layer_params(kind))
    # strict: every name torch has, none it lacks, each of torch's shape
    module.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}, strict=True)
