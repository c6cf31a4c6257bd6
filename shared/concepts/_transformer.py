"""What the Transformer's encoder and decoder layers share: the sublayers in order, the
parameter tree, its validation, the cases' inputs and the torch oracle.

A layer is a list of sublayers (self-attention, cross-attention for a decoder, the
feed-forward net), each wrapped in a residual connection and a layer norm:
  post-LN (the paper, torch's default norm_first=False): h = norm(h + dropout(sublayer(h)))
  pre-LN  (norm_first=True, GPT-2 and most models since): h = h + dropout(sublayer(norm(h)))
The feed-forward net is act(h W1 + b1) W2 + b2, with dropout after the activation. Dropout
masks (0 drop, 1 keep) are injected, one per place torch's layers drop: "attn" after
self-attention, "cross" after cross-attention, "ff" inside the feed-forward net, "out" after
it; each kept unit is scaled by 1 / (1 - dropout). torch's layers also drop attention weights
with the same p; ours do not (that draw happens inside nn.MultiheadAttention, which no
injected mask reaches), so the torch oracle runs with dropout=0.
"""
from __future__ import annotations

import numpy as np

from shared import checks, layouts, lazy
from shared.concepts import _attention
from shared.concepts import multi_head_attention as mha_spec
from shared.spec import Tolerance

ACTIVATIONS = ("relu", "gelu", "gelu_tanh")
# (sublayer, its norm, its dropout mask) in order
ENCODER = (("self_attn", "norm1", "attn"), ("ff", "norm2", "out"))
DECODER = (("self_attn", "norm1", "attn"), ("cross_attn", "norm2", "cross"), ("ff", "norm3", "out"))


def validate(name, sublayers, x, memory, params, dropout_masks, *, num_heads, mask, memory_mask, causal,
             norm_first, activation, eps, dropout):
    """Returns (batch, length, d_model, d_ff)."""
    checks.require_float(name, "x", x)
    checks.require_rank(name, "x", x, (3,), " ([batch, length, d_model])")
    b, length, d = checks.shape_of(x)
    checks.require_nonempty(name, "x", x, "a layer needs at least one token")
    checks.require_bool(name, "norm_first", norm_first)
    checks.require_choice(name, "activation", activation, ACTIVATIONS)
    checks.require_nonnegative(name, "eps", eps)
    checks.require_number_in(name, "dropout", dropout, 0.0, 1.0, hi_open=True)
    keys = tuple(s for s, _, _ in sublayers if s != "ff") + ("W1", "b1", "W2", "b2") + tuple(n for _, n, _ in sublayers)
    checks.require_keys(name, "params", params, keys)
    checks.require_tree(name, "params", params, checks.dtype_name(x))
    if checks.shape_of(params["W1"])[:1] != (d,) or len(checks.shape_of(params["W1"])) != 2:
        raise ValueError(f"{name}: params['W1'] must have shape (d_model = {d}, d_ff), got "
                         f"{checks.shape_of(params['W1'])}")
    d_ff = checks.shape_of(params["W1"])[1]
    checks.require_shapes(name, "params", params, {"b1": (d_ff,), "W2": (d_ff, d), "b2": (d,)},
                          f"the feed-forward net d_model = {d} -> d_ff = {d_ff} -> d_model")
    for _, norm, _ in sublayers:
        checks.require_keys(name, f"params[{norm!r}]", params[norm], ("gamma", "beta"))
        checks.require_shapes(name, f"params[{norm!r}]", params[norm], {"gamma": (d,), "beta": (d,)},
                              f"one value per feature, d_model = {d}")
    mha_spec.validate(x, x, x, params["self_attn"], num_heads=num_heads, mask=mask, causal=causal, concept=name,
                      arg="params['self_attn']")
    if memory is not None:
        checks.require_float(name, "memory", memory)
        checks.require_rank(name, "memory", memory, (3,), " ([batch, source length, d_model])")
        if checks.shape_of(memory)[::2] != (b, d):
            raise ValueError(f"{name}: memory must have shape [batch = {b}, source length, d_model = {d}], "
                             f"got {checks.shape_of(memory)}")
        mha_spec.validate(x, memory, memory, params["cross_attn"], num_heads=num_heads, mask=memory_mask,
                          causal=False, concept=name, arg="params['cross_attn']")
    if dropout_masks is not None:
        widths = {"ff": d_ff}
        expected = {key: (b, length, widths.get(key, d)) for _, _, key in sublayers} | {"ff": (b, length, d_ff)}
        checks.require_keys(name, "dropout_masks", dropout_masks, tuple(expected))
        for key, shape in expected.items():
            checks.require_float(name, f"dropout_masks[{key!r}]", dropout_masks[key])
            checks.require_shape(name, f"dropout_masks[{key!r}]", dropout_masks[key], shape,
                                 "one keep/drop decision per unit")
            checks.require_values_in(name, f"dropout_masks[{key!r}]", dropout_masks[key], (0.0, 1.0),
                                     "0 (drop) and 1 (keep)")
    return b, length, d, d_ff


# -- cases ---------------------------------------------------------------------------------

def init_params(rng, d, d_ff, sublayers):
    params = {}
    for sub, norm, _ in sublayers:
        if sub != "ff":
            params[sub] = {n: (rng.standard_normal((d, d)) / np.sqrt(d) if n[0] == "W" else 0.1 * rng.standard_normal(d))
                           for n in layouts.MHA_PARAMS}
        params[norm] = {"gamma": 1 + 0.2 * rng.standard_normal(d), "beta": 0.1 * rng.standard_normal(d)}
    params.update(W1=rng.standard_normal((d, d_ff)) / np.sqrt(d), b1=0.1 * rng.standard_normal(d_ff),
                  W2=rng.standard_normal((d_ff, d)) / np.sqrt(d_ff), b2=0.1 * rng.standard_normal(d))
    return params


def make(sublayers, batch=2, length=4, d=8, d_ff=16, source=5, mask=None, memory_mask=None, drop=None):
    """A case's inputs: x (and memory for a decoder), params, optional masks; `drop` is the
    dropout probability of the injected masks."""
    def build(rng):
        inputs = {"x": rng.standard_normal((batch, length, d))}
        if any(s == "cross_attn" for s, _, _ in sublayers):
            inputs["memory"] = rng.standard_normal((batch, source, d))
        inputs["params"] = init_params(rng, d, d_ff, sublayers)
        if drop is not None:
            widths = {"ff": d_ff}
            keys = [k for _, _, k in sublayers] + ["ff"]
            inputs["dropout_masks"] = {k: (rng.uniform(size=(batch, length, widths.get(k, d))) >= drop).astype(float)
                                       for k in keys}
        for key, value in (("mask", mask), ("memory_mask", memory_mask)):
            if value is not None:
                inputs[key] = np.array(value, dtype=bool)
        return inputs
    return build


# -- the torch oracle ------------------------------------------------------------------------

TORCH_ACTIVATIONS = {"relu": "relu", "gelu": "gelu"}  # "gelu_tanh" is no string torch's layers take


def _torch_mask(mask, causal, b, heads, lq, lk, device):
    """Ours (True = may attend, broadcastable to [B, heads, Lq, Lk]) as torch's layers take it:
    True = masked out, [B * heads, Lq, Lk]; None where nothing is masked."""
    torch = lazy.torch()
    allowed = None if mask is None else mask
    if causal:
        triangle = torch.ones(lq, lk, dtype=torch.bool, device=device).tril()
        allowed = triangle if allowed is None else allowed & triangle
    if allowed is None:
        return None
    return ~allowed.broadcast_to(b, heads, lq, lk).reshape(b * heads, lq, lk)


def torch_layer(kind):
    """nn.TransformerEncoderLayer / nn.TransformerDecoderLayer(batch_first=True, dropout=0) run
    on our parameters by torch.func.functional_call: differentiable in all of them."""
    def run(x, params, memory=None, dropout_masks=None, *, num_heads, mask=None, memory_mask=None, causal=False,
            norm_first=False, activation="relu", eps=1e-5, dropout=0.0):
        torch = lazy.torch()
        b, length, d = x.shape
        d_ff = params["W1"].shape[1]
        options = dict(dim_feedforward=d_ff, dropout=0.0, activation=TORCH_ACTIVATIONS[activation],
                       layer_norm_eps=eps, batch_first=True, norm_first=norm_first, dtype=x.dtype, device=x.device)
        self_mask = _torch_mask(mask, causal, b, num_heads, length, length, x.device)
        if kind == "encoder":
            module = torch.nn.TransformerEncoderLayer(d, num_heads, **options)
            return torch.func.functional_call(module, layouts.encoder_layer_to_torch(params), (x,),
                                              {"src_mask": self_mask})
        module = torch.nn.TransformerDecoderLayer(d, num_heads, **options)
        cross_mask = _torch_mask(memory_mask, False, b, num_heads, length, memory.shape[1], x.device)
        return torch.func.functional_call(module, layouts.decoder_layer_to_torch(params), (x, memory),
                                          {"tgt_mask": self_mask, "memory_mask": cross_mask})
    return run


def torch_applies(case) -> bool:
    """No injected dropout (torch draws its own), an activation torch names, no query that
    attends to nothing (nn.MultiheadAttention gives it NaN)."""
    inputs = case.inputs()
    masks = [inputs.get("mask"), inputs.get("memory_mask")]
    if case.kwargs.get("causal"):
        masks = [m & _attention.causal_mask(inputs["x"].shape[1], inputs["x"].shape[1]) if m is not None else None
                 for m in masks[:1]] + masks[1:]
    empty = any(m is not None and not np.broadcast_to(m, m.shape).any(axis=-1).all() for m in masks)
    return ("dropout_masks" not in inputs and case.kwargs.get("activation", "relu") in TORCH_ACTIVATIONS
            and not empty)


# float32 gradients of a whole layer: each entry of dW is a sum over the B L tokens of products
# that passed through two or three layer norms and attentions (~50 roundings per path), so its
# error scales with the array's largest entry, not with the entry itself (a sum that cancels to
# ~0.01 carries the rounding of terms of ~1). Measured over every case and framework: at most
# 1.2e-6 of the array's largest |entry| (~10 ulp). Bound: 4e-6 of it, 33 ulp; and at least the
# table's 1e-6, for dbk, which is 0 in exact arithmetic (softmax ignores a shift common to all
# keys) and holds rounding noise of ~4e-7 (measured).
FLOAT32_GRAD = Tolerance(4e-6, 1e-5, "layer gradients: sums over B L tokens through 2-3 layer norms and attentions; "
                                     "rounding scales with the array's largest entry (measured <= 1.2e-6 of it); "
                                     "at least 1e-6 for dbk, exactly 0 but for rounding",
                         scaled=True, floor=1e-6)
