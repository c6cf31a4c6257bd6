"""multi_head_attention: project the queries, keys and values, split the projections into
heads that attend each on its own (scaled_dot_product_attention), join the heads and
project once more. Canonical parameters are four [d_model, d_model] matrices and four
biases in y = x W + b; shared/layouts.py converts them to nn.MultiheadAttention's packed
state_dict and to Keras' [d_model, heads, d_head] kernels."""
import numbers
import warnings

import numpy as np

from shared import checks, layouts, lazy
from shared.concepts import _attention
from shared.spec import Case, Concept, ErrorCase, Oracle, Override, PortingCase, Side, Tolerance

NAME = "multi_head_attention"


def validate(query, key, value, params, *, num_heads, mask, causal, concept=NAME, arg="params"):
    """Returns (batch, Lq, d_model). A layer built on attention passes its own name as
    `concept` and the path of the attention's parameters as `arg`, for its messages."""
    checks.require_floats(concept, query=query, key=key, value=value)
    for what, a in (("query", query), ("key", key), ("value", value)):
        checks.require_rank(concept, what, a, (3,), " ([batch, length, d_model])")
    (b, lq, d), ks, vs = checks.shape_of(query), checks.shape_of(key), checks.shape_of(value)
    if ks != (b, ks[1], d) or vs != ks:
        raise ValueError(f"{concept}: key and value must have the shape [batch = {b}, Lk, d_model = {d}], one "
                         f"shape for both, got {ks} and {vs}")
    checks.require_nonempty(concept, "query", query, "attention needs at least one query")
    checks.require_nonempty(concept, "key", key, "attention needs at least one key")
    if not isinstance(num_heads, numbers.Integral) or isinstance(num_heads, bool) or num_heads < 1:
        raise ValueError(f"{concept}: num_heads must be an int >= 1, got {num_heads!r}")
    if d % num_heads:
        raise ValueError(f"{concept}: d_model = {d} is not divisible by num_heads = {num_heads}: every head "
                         "takes d_model / num_heads features")
    checks.require_keys(concept, arg, params, layouts.MHA_PARAMS)
    checks.require_tree(concept, arg, params, checks.dtype_name(query))
    checks.require_shapes(concept, arg, params, {name: (d, d) if name[0] == "W" else (d,)
                                                     for name in layouts.MHA_PARAMS}, "x W + b, d_model = " + str(d))
    _attention.validate_mask(concept, mask, (b, num_heads, lq, ks[1]), causal)
    return b, lq, d


def _params(rng, d):
    scale = 1 / np.sqrt(d)
    return {name: (scale * rng.standard_normal((d, d)) if name[0] == "W" else 0.1 * rng.standard_normal(d))
            for name in layouts.MHA_PARAMS}


def _make(batch, lq, lk, d, mask=None, self_attention=False):
    def make(rng):
        query = rng.standard_normal((batch, lq, d))
        key = query.copy() if self_attention else rng.standard_normal((batch, lk, d))
        inputs = {"query": query, "key": key, "value": key.copy(), "params": _params(rng, d)}
        if mask is not None:
            inputs["mask"] = np.array(mask, dtype=bool)
        return inputs
    return make


def _one_head_golden(inputs):
    """num_heads = 1: attention of the projections, looped (shared/concepts/_attention.py)."""
    p = inputs["params"]
    heads, weights = _attention.looped_attention(inputs["query"] @ p["Wq"] + p["bq"], inputs["key"] @ p["Wk"] + p["bk"],
                                                 inputs["value"] @ p["Wv"] + p["bv"], inputs.get("mask"))
    return heads @ p["Wo"] + p["bo"], weights[:, None]


def _two_heads_golden(inputs):
    """num_heads = 2 with identity projections and zero biases: each head attends over its
    half of the features, looped; the output is the heads side by side."""
    x = inputs["query"]
    half = x.shape[-1] // 2
    parts = [_attention.looped_attention(x[..., s], x[..., s], x[..., s], causal=True)
             for s in (slice(0, half), slice(half, None))]
    return np.concatenate([p[0] for p in parts], axis=-1), np.stack([p[1] for p in parts], axis=1)


def _identity(rng):
    d = 4
    params = {name: (np.eye(d) if name[0] == "W" else np.zeros(d)) for name in layouts.MHA_PARAMS}
    x = rng.integers(-2, 3, size=(1, 3, d)).astype(np.float64)
    return {"query": x, "key": x.copy(), "value": x.copy(), "params": params}


# -- oracles -----------------------------------------------------------------------------

def _heads_mask(mask, query, key, num_heads, tf=False):
    """Our mask broadcast to [B, heads, Lq, Lk]."""
    shape = (int(query.shape[0]), num_heads, int(query.shape[1]), int(key.shape[1]))
    return lazy.tf().broadcast_to(mask, shape) if tf else mask.broadcast_to(shape)


def _torch_mha(query, key, value, params, *, num_heads, mask=None, causal=False):
    """nn.MultiheadAttention(batch_first=True) called with our parameters through
    torch.func.functional_call: its own forward, differentiable in the parameters."""
    torch = lazy.torch()
    d = int(query.shape[-1])
    module = torch.nn.MultiheadAttention(d, num_heads, batch_first=True, dtype=query.dtype, device=query.device)
    if causal:
        triangle = torch.ones(query.shape[1], key.shape[1], dtype=torch.bool, device=query.device).tril()
        mask = triangle if mask is None else mask & triangle
    attn_mask = None
    if mask is not None:  # its boolean mask means True = masked out, and one mask per (sample, head)
        attn_mask = ~_heads_mask(mask, query, key, num_heads).reshape(-1, query.shape[1], key.shape[1])
    return torch.func.functional_call(module, layouts.mha_to_torch(params), (query, key, value),
                                      {"attn_mask": attn_mask, "need_weights": True, "average_attn_weights": False})


def _keras_mha(query, key, value, params, *, num_heads, mask=None, causal=False):
    """keras.layers.MultiHeadAttention holding our parameters (set_weights): its value only."""
    keras = lazy.keras()
    d = int(query.shape[-1])
    layer = keras.layers.MultiHeadAttention(num_heads, key_dim=d // num_heads, dtype=query.dtype.name)
    layer.build(tuple(query.shape), tuple(value.shape), tuple(key.shape))
    layer.set_weights([np.asarray(w) for w in layouts.mha_to_keras(params, num_heads)])
    if mask is not None:  # Keras takes [B, Lq, Lk], one mask for every head
        mask = _heads_mask(mask, query, key, num_heads, tf=True)[:, 0]
    with warnings.catch_warnings():
        # with one key the softmax is 1 by design (case length-1): Keras warns about that axis of size 1
        warnings.filterwarnings("ignore", "You are using a softmax over axis", UserWarning)
        return layer(query, value, key, attention_mask=mask, use_causal_mask=causal, return_attention_scores=True)


def _same_over_heads(case) -> bool:
    mask = case.inputs().get("mask")
    return mask is None or mask.ndim < 4 or mask.shape[1] == 1


def _has_empty_row(case) -> bool:
    mask = case.inputs().get("mask")
    return mask is not None and not mask.any(axis=-1).all()


# -- porting -----------------------------------------------------------------------------

def _padded(rng):
    inputs = _make(2, 3, 5, 8)(rng)
    return {"query": inputs["query"], "key": inputs["key"], "params": inputs["params"],
            "valid": np.array([[True] * 4 + [False], [True] * 3 + [False] * 2])}


def _keras_padded(query, key, params, valid):
    layer_out = _keras_mha(query, key, key, params, num_heads=2, mask=valid[:, None, None, :])
    return layer_out[0]


def _torch_padded(polarity):
    def run(query, key, params, valid):
        torch = lazy.torch()
        module = torch.nn.MultiheadAttention(8, 2, batch_first=True, dtype=query.dtype)
        state = layouts.mha_to_torch(params)
        padding = valid if polarity == "as-is" else ~valid
        return torch.func.functional_call(module, state, (query, key, key), {"key_padding_mask": padding})[0]
    return run


def _torch_attn_mask(polarity):
    def run(query, key, params, valid):
        torch = lazy.torch()
        module = torch.nn.MultiheadAttention(8, 2, batch_first=True, dtype=query.dtype)
        mask = valid[:, None, None, :].broadcast_to(2, 2, 3, 5).reshape(4, 3, 5)
        return torch.func.functional_call(module, layouts.mha_to_torch(params), (query, key, key),
                                          {"attn_mask": mask if polarity == "as-is" else ~mask})[0]
    return run


def _packed_untransposed(params):
    """in_proj_weight built the way the shapes suggest: [Wq; Wk; Wv] stacked, not transposed."""
    torch = lazy.torch()
    return {"in_proj_weight": torch.cat([params["Wq"], params["Wk"], params["Wv"]]),
            "in_proj_bias": torch.cat([params["bq"], params["bk"], params["bv"]]),
            "out_proj.weight": params["Wo"].T, "out_proj.bias": params["bo"]}


def _self_attention(rng):
    inputs = _make(2, 4, 4, 8, self_attention=True)(rng)
    return {"query": inputs["query"], "key": inputs["key"], "params": inputs["params"], "valid": np.ones((2, 4), bool)}


def _empty_row(rng):
    inputs = _padded(rng)
    inputs["valid"][1] = False  # sample 1 has no real key at all
    return inputs


def _torch_attending_to_nothing(query, key, params, valid):
    """A query with no key gives zero weights, so out = 0 Wo + bo: put that where torch gave NaN."""
    torch = lazy.torch()
    out = _torch_padded("inverted")(query, key, params, valid)
    return torch.where(valid.any(dim=-1)[:, None, None], out, params["bo"])


def _torch_time_first(query, key, params, valid):
    """nn.MultiheadAttention() without batch_first reads [L, B, d]: given [B, L, d] it mixes samples."""
    torch = lazy.torch()
    module = torch.nn.MultiheadAttention(8, 2, dtype=query.dtype)
    return torch.func.functional_call(module, layouts.mha_to_torch(params), (query, key, key))[0]


def _torch_unmasked(packed):
    def run(query, key, params, valid):
        torch = lazy.torch()
        module = torch.nn.MultiheadAttention(8, 2, batch_first=True, dtype=query.dtype)
        return torch.func.functional_call(module, packed(params), (query, key, key))[0]
    return run


def _keras_unmasked(query, key, params, valid):
    return _keras_mha(query, key, key, params, num_heads=2)[0]


SOURCE = ("torch.nn.MultiheadAttention(embed_dim, num_heads, batch_first=False): key_padding_mask and a boolean "
          "attn_mask, True = not allowed to attend; in_proj_weight [3 embed_dim, embed_dim]; "
          "keras.layers.MultiHeadAttention: attention_mask [B, T, S], True = attend (1 = attention)")
KERAS_REFERENCE = Side("tf", "keras.layers.MultiHeadAttention(2, key_dim=4)(q, kv, attention_mask=valid[:, None])",
                       _keras_padded)
FIXED_PADDING = Side("torch", "nn.MultiheadAttention(8, 2, batch_first=True)(q, kv, kv, key_padding_mask=~valid)",
                     _torch_padded("inverted"))

PORTING = (
    PortingCase(
        "torch-key-padding-mask-polarity",
        "nn.MultiheadAttention's key_padding_mask means True = padding (ignore this key); Keras' "
        "attention_mask means True = attend. Passing the same boolean array attends to the padding only.",
        _padded, reference=KERAS_REFERENCE,
        naive=Side("torch", "nn.MultiheadAttention(8, 2, batch_first=True)(q, kv, kv, key_padding_mask=valid)",
                   _torch_padded("as-is")),
        fixed=FIXED_PADDING, seed=2230, source=SOURCE),
    PortingCase(
        "torch-attn-mask-polarity",
        "A boolean attn_mask of nn.MultiheadAttention means True = masked out, the opposite of Keras' "
        "attention_mask and of F.scaled_dot_product_attention's boolean attn_mask.",
        _padded, reference=KERAS_REFERENCE,
        naive=Side("torch", "nn.MultiheadAttention(8, 2, batch_first=True)(q, kv, kv, attn_mask=mask)",
                   _torch_attn_mask("as-is")),
        fixed=Side("torch", "nn.MultiheadAttention(8, 2, batch_first=True)(q, kv, kv, attn_mask=~mask)",
                   _torch_attn_mask("inverted")),
        seed=2231, source=SOURCE),
    PortingCase(
        "torch-fully-masked-row-nan",
        "A sample whose every key is padding: Keras' MultiHeadAttention gives its queries zero weights "
        "(an output of bo), nn.MultiheadAttention NaN, which then spreads through the loss.",
        _empty_row, reference=KERAS_REFERENCE, naive=FIXED_PADDING,
        fixed=Side("torch", "torch.where(valid.any(-1)[:, None, None], nn.MultiheadAttention(...)(q, kv, kv, "
                            "key_padding_mask=~valid)[0], out_proj.bias)", _torch_attending_to_nothing),
        seed=2232, source=SOURCE),
    PortingCase(
        "torch-mha-batch-first",
        "nn.MultiheadAttention reads [length, batch, d_model] unless batch_first=True; Keras reads "
        "[batch, length, d_model]. Given [B, L, d] it attends across the samples of the batch, with no error "
        "when the shapes happen to fit (self-attention, where query and key have one shape).",
        _self_attention, reference=Side("tf", "keras.layers.MultiHeadAttention(2, key_dim=4)(q, kv)", _keras_unmasked),
        naive=Side("torch", "nn.MultiheadAttention(8, 2)(q, kv, kv)", _torch_time_first),
        fixed=Side("torch", "nn.MultiheadAttention(8, 2, batch_first=True)(q, kv, kv)",
                   _torch_unmasked(layouts.mha_to_torch)),
        seed=2233, source=SOURCE),
    PortingCase(
        "torch-in-proj-weight-packing",
        "nn.MultiheadAttention's in_proj_weight [3d, d] holds Wq.T, Wk.T and Wv.T (nn.Linear's [out, in]). "
        "Stacking the [d, d] kernels of a y = x W + b model without transposing them fits the shape and "
        "computes another attention.",
        _padded, reference=Side("tf", "keras.layers.MultiHeadAttention(2, key_dim=4)(q, kv)", _keras_unmasked),
        naive=Side("torch", "in_proj_weight = cat([Wq, Wk, Wv])", _torch_unmasked(_packed_untransposed)),
        fixed=Side("torch", "load_state_dict(layouts.mha_to_torch(params))", _torch_unmasked(layouts.mha_to_torch)),
        seed=2234, source=SOURCE),
)


def _error(d=8, lq=3, lk=5, **changes):
    def make():
        inputs = _make(2, lq, lk, d)(np.random.default_rng(0))
        for name, value in changes.items():
            if name in layouts.MHA_PARAMS and value is None:
                del inputs["params"][name]
            elif name in layouts.MHA_PARAMS:
                inputs["params"][name] = value
            else:
                inputs[name] = value
        return inputs
    return make


CONCEPT = Concept(
    name=NAME,
    module="attention",
    family="attention_transformer",
    lesson=4,
    math="Q = query Wq + bq, K = key Wk + bk, V = value Wv + bv, each split into h heads of d_model / h "
         "features;  head_i, A_i = scaled_dot_product_attention(Q_i, K_i, V_i);  "
         "out = concat(head_1 .. head_h) Wo + bo;  backward: the same chain in reverse, "
         "dW = x^T d(x W) summed over the batch and positions",
    japanese="マルチヘッド注意 (Multi-Head Attention)",
    signature="multi_head_attention(query, key, value, params, *, num_heads, mask=None, causal=False) -> "
              "(out, weights); query [B, Lq, d], key and value [B, Lk, d], params Wq, Wk, Wv, Wo [d, d] and "
              "bq, bk, bv, bo [d] -> out [B, Lq, d], weights [B, heads, Lq, Lk]; mask boolean, True = may attend, "
              "broadcastable to [B, heads, Lq, Lk]",
    differentiable=("query", "key", "value", "params"),
    outputs=("out", "weights"),
    cases=(
        Case("self-attention-2-heads", _make(2, 4, 4, 8, self_attention=True), {"num_heads": 2}, seed=2240,
             note="query = key = value (three copies, each with its own gradient)"),
        Case("cross-attention-4-heads", _make(2, 3, 5, 8), {"num_heads": 4}, seed=2241,
             note="3 queries attend to 5 keys; d_head = 2"),
        Case("causal-2-heads", _make(2, 4, 4, 8, self_attention=True), {"num_heads": 2, "causal": True}, seed=2242),
        Case("key-padding", _make(2, 3, 5, 8, mask=[[[[True] * 5]], [[[True] * 3 + [False] * 2]]]),
             {"num_heads": 2}, seed=2243, note="mask [B, 1, 1, Lk]: two padding keys in sample 1"),
        Case("mask-per-head", _make(1, 3, 4, 4, mask=[[[[True] * 4] * 3, [[True, False, True, False]] * 3]]),
             {"num_heads": 2}, seed=2244, note="a different mask for each head, [B, heads, Lq, Lk]"),
        Case("fully-masked-row", _make(1, 3, 4, 4, mask=[[[True] * 4, [False] * 4, [True, True, False, False]]]),
             {"num_heads": 2}, seed=2245, note="query 1 attends to nothing: zero weights, out = bo"),
        Case("length-1", _make(3, 1, 1, 4), {"num_heads": 2}, seed=2246, note="one query, one key: weights 1"),
        Case("one-head", _make(2, 3, 4, 6), {"num_heads": 1}, seed=2247, golden=_one_head_golden,
             note="a single head: attention of the projections (golden: the looped definition)"),
        Case("identity-projections-by-hand", _identity, {"num_heads": 2, "causal": True}, seed=2248,
             golden=_two_heads_golden,
             note="Wq = Wk = Wv = Wo = I, zero biases, small-integer x: each head is attention on its half"),
    ),
    error_cases=(
        ErrorCase("d_model-not-divisible", _error(), ValueError,
                  r"multi_head_attention: d_model = 8 is not divisible by num_heads = 3", {"num_heads": 3}),
        ErrorCase("num_heads-0", _error(), ValueError, r"num_heads must be an int >= 1, got 0", {"num_heads": 0}),
        ErrorCase("mask-shape", _error(mask=np.ones((3, 4), dtype=bool)), ValueError,
                  r"multi_head_attention: mask of shape \(3, 4\) does not broadcast to the attention scores' "
                  r"shape \(2, 2, 3, 5\)", {"num_heads": 2}),
        ErrorCase("mask-dtype", _error(mask=np.ones((3, 5), dtype=np.int64)), TypeError,
                  r"mask must be boolean \(True = may attend\), got int64", {"num_heads": 2}),
        ErrorCase("Wq-shape", _error(Wq=np.ones((8, 4))), ValueError,
                  r"params\['Wq'\] must have shape \(8, 8\)", {"num_heads": 2}),
        ErrorCase("missing-param", _error(bo=None), ValueError, r"params must be a dict with keys",
                  {"num_heads": 2}),
        ErrorCase("key-value-shapes", _error(value=np.ones((2, 4, 8))), ValueError,
                  r"key and value must have the shape \[batch = 2, Lk, d_model = 8\]", {"num_heads": 2}),
        ErrorCase("rank-2-query", _error(query=np.ones((3, 8))), ValueError,
                  r"query must have rank 3 \(\[batch, length, d_model\]\)", {"num_heads": 2}),
    ),
    oracles=(
        Oracle("torch", "nn.MultiheadAttention(batch_first=True) via torch.func.functional_call", _torch_mha,
               applies=lambda case: not _has_empty_row(case)),
        Oracle("tf", "keras.layers.MultiHeadAttention (set_weights)", _keras_mha, differentiable=False,
               applies=_same_over_heads),
    ),
    porting=PORTING,
    overrides=(
        # Keras' MultiHeadAttention scales the query by ops.cast(1 / sqrt(key_dim), dtype), and a
        # Python float becomes a float32 tensor before the cast: in float64 every score carries
        # the float32 rounding of the scale, a relative error up to 2^-24 = 6e-8. A weight moves by
        # at most A (|ds| + sum A |ds|) <= 2 * 6e-8 * max|s| A, with |s| < 4 here, and the output
        # by that times |v W| < 2: <= 1e-6 in the worst case, 2.2e-8 measured.
        Override("builtin", Tolerance(1e-6, 1e-6, "Keras scales by 1/sqrt(key_dim) rounded to float32: "
                                                  "relative error 2^-24 in every score, |s| < 4, |v W| < 2"),
                 dtype="float64", backend="tf"),
    ),
)
