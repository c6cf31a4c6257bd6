"""scaled_dot_product_attention: each query takes a weighted average of the values, weighted
by the softmax of its dot products with the keys over sqrt(d_k) (Vaswani et al. 2017). The
book ❷'s Attention (8章) is this with one query and no scaling."""
import math

import numpy as np

from shared import checks, lazy
from shared.concepts import _attention
from shared.spec import Case, Concept, ErrorCase, Oracle, PortingCase, Side


def validate(q, k, v, *, mask, causal):
    """Returns the scores' shape [..., Lq, Lk]."""
    name = "scaled_dot_product_attention"
    checks.require_floats(name, q=q, k=k, v=v)
    for arg, a in (("q", q), ("k", k), ("v", v)):
        checks.require_min_rank(name, arg, a, 2)
    qs, ks, vs = checks.shape_of(q), checks.shape_of(k), checks.shape_of(v)
    if not qs[:-2] == ks[:-2] == vs[:-2]:
        raise ValueError(f"{name}: q, k and v must have the same leading (batch, head) axes, got shapes "
                         f"{qs}, {ks} and {vs}")
    if ks[-1] != qs[-1]:
        raise ValueError(f"{name}: k must have the features of q (d_k = {qs[-1]}) on its last axis, got shape {ks}")
    if vs[-2] != ks[-2]:
        raise ValueError(f"{name}: v must have one row per key (Lk = {ks[-2]}), got shape {vs}")
    for arg, a in (("q", q), ("k", k)):
        checks.require_nonempty(name, arg, a, "attention needs at least one query and one key")
    scores = qs[:-1] + (ks[-2],)
    _attention.validate_mask(name, mask, scores, causal)
    return scores


def _qkv(batch, lq, lk, d_k, d_v, scale=1.0):
    def make(rng):
        return {"q": scale * rng.standard_normal(batch + (lq, d_k)), "k": scale * rng.standard_normal(batch + (lk, d_k)),
                "v": rng.standard_normal(batch + (lk, d_v))}
    return make


def _with_mask(make, mask):
    def with_mask(rng):
        return {**make(rng), "mask": np.array(mask, dtype=bool)}
    return with_mask


def _golden(causal=False):
    def golden(inputs):
        return _attention.looped_attention(inputs["q"], inputs["k"], inputs["v"], inputs.get("mask"), causal)
    return golden


def _by_hand(rng):
    # d_k = 4 (scale 1/2): query 0 scores [1, 0, 1] (two tied keys), query 1 [0, 0, 0] (uniform)
    return {"q": np.array([[2.0, 0, 0, 0], [0, 0, 0, 0]]),
            "k": np.array([[1.0, 0, 0, 0], [0, 0, 0, 5], [1.0, 0, 0, 0]]),
            "v": np.array([[1.0, 0], [0, 1.0], [3.0, 4.0]])}


def _by_hand_golden(inputs):
    e = np.e
    weights = np.array([[e / (2 * e + 1), 1 / (2 * e + 1), e / (2 * e + 1)], [1 / 3, 1 / 3, 1 / 3]])
    return weights @ inputs["v"], weights


# key padding: sample 0 has 5 real keys, sample 1 three (then two padding keys)
PADDING = [[[True] * 5], [[True, True, True, False, False]]]
# query 1 of the single sample may attend to no key at all
EMPTY_ROW = [[True, False, True, True], [False, False, False, False], [True, True, False, True]]


def _has_empty_row(case) -> bool:
    mask = case.inputs().get("mask")
    return mask is not None and not np.broadcast_to(mask, mask.shape).any(axis=-1).all()


# -- oracles -----------------------------------------------------------------------------

def _torch_sdpa(q, k, v, mask=None, causal=False):
    torch = lazy.torch()
    if causal and mask is not None:  # torch takes one or the other: the same mask, combined
        mask = mask & torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
        causal = False
    return (lazy.F().scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal),)


def _keras_dpa(q, k, v, mask=None, causal=False):
    """keras.ops.dot_product_attention takes [batch, length, heads, features]."""
    keras, tf = lazy.keras(), lazy.tf()

    def heads_second(a):
        return a[:, :, None, :] if len(a.shape) == 3 else tf.transpose(a, (0, 2, 1, 3))
    if mask is not None:
        scores = tuple(q.shape[:-1]) + (k.shape[-2],)
        mask = tf.broadcast_to(mask, scores)
        mask = mask[:, None] if len(scores) == 3 else mask
    # its default scale 1 / sqrt(d_k) is computed in float32 whatever the dtype, and a Python
    # float scale goes through tf.cast, which makes a float32 tensor of it first: in float64 the
    # scores carry a relative error of ~3e-8 either way (measured: outputs 2.8e-8 off). A
    # tensor of the inputs' dtype keeps it exact.
    scale = tf.constant(1 / math.sqrt(q.shape[-1]), dtype=q.dtype)
    out = keras.ops.dot_product_attention(heads_second(q), heads_second(k), heads_second(v), mask=mask,
                                          is_causal=causal, scale=scale)
    return (out[:, :, 0, :] if len(q.shape) == 3 else tf.transpose(out, (0, 2, 1, 3)),)


# -- porting -----------------------------------------------------------------------------

def _torch_bool(q, k, v, mask):
    return lazy.F().scaled_dot_product_attention(q, k, v, attn_mask=mask)


def _torch_additive(q, k, v, mask):
    torch = lazy.torch()
    additive = torch.where(mask, torch.zeros((), dtype=q.dtype), torch.full((), -1e9, dtype=q.dtype))
    return lazy.F().scaled_dot_product_attention(q, k, v, attn_mask=additive)


def _keras_ops(fix):
    def run(q, k, v, mask):
        tf = lazy.tf()
        out = lazy.keras().ops.dot_product_attention(q[:, :, None], k[:, :, None], v[:, :, None],
                                                     mask=mask[:, None])[:, :, 0]
        if fix:  # a query that may attend to nothing gives 0, as Keras' MultiHeadAttention and torch
            out = tf.where(tf.reduce_any(mask, axis=-1)[..., None], out, tf.zeros_like(out))
        return out
    return run


def _empty_row_inputs(rng):
    return {**_qkv((2,), 3, 4, 8, 5)(rng), "mask": np.array([EMPTY_ROW, [[True] * 4] * 3])}


SOURCE = ("torch.nn.functional.scaled_dot_product_attention(attn_mask: bool, True = take part in attention, "
          "or float, added to the scores); keras.ops.dot_product_attention(query [B, T, N, H], mask [B, N, T, S], "
          "True = attend)")

PORTING = (
    PortingCase(
        "additive-minus-1e9-fully-masked-row",
        "An additive mask of 0 / -1e9 in place of a boolean one: where a query may attend to nothing, "
        "softmax of scores all lowered by 1e9 is uniform, so that query averages every value "
        "(F.scaled_dot_product_attention with a boolean mask gives it zeros).",
        _empty_row_inputs,
        reference=Side("torch", "F.scaled_dot_product_attention(q, k, v, attn_mask=mask)", _torch_bool),
        naive=Side("torch", "F.scaled_dot_product_attention(q, k, v, attn_mask=where(mask, 0., -1e9))",
                   _torch_additive),
        fixed=Side("torch", "F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # boolean", _torch_bool),
        seed=2201, source=SOURCE),
    PortingCase(
        "keras-ops-fully-masked-row-uniform",
        "keras.ops.dot_product_attention gives a query that may attend to nothing uniform weights "
        "(the mean of the values); F.scaled_dot_product_attention and Keras' MultiHeadAttention give it zeros.",
        _empty_row_inputs,
        reference=Side("torch", "F.scaled_dot_product_attention(q, k, v, attn_mask=mask)", _torch_bool),
        naive=Side("tf", "keras.ops.dot_product_attention(q4, k4, v4, mask=mask4)", _keras_ops(fix=False)),
        fixed=Side("tf", "tf.where(any(mask, -1), keras.ops.dot_product_attention(...), 0)", _keras_ops(fix=True)),
        seed=2202, source=SOURCE),
)


def _error(**shapes):
    def make():
        rng = np.random.default_rng(0)
        return {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    return make


def _error_mask(mask):
    def make():
        return {**_error(q=(2, 3, 4), k=(2, 5, 4), v=(2, 5, 2))(), "mask": mask}
    return make


CONCEPT = Concept(
    name="scaled_dot_product_attention",
    module="attention",
    family="attention_transformer",
    lesson=3,
    math="S = q k^T / sqrt(d_k) (masked: -inf);  A = softmax(S) over the keys;  out = A v;  "
         "dv = A^T d_out,  dA = d_out v^T + d_A,  dS = A * (dA - sum_keys(dA * A)),  "
         "dq = dS k / sqrt(d_k),  dk = dS^T q / sqrt(d_k)",
    japanese="スケール化内積注意 (Scaled Dot-Product Attention)",
    signature="scaled_dot_product_attention(q, k, v, *, mask=None, causal=False) -> (out, weights); "
              "q [..., Lq, d_k], k [..., Lk, d_k], v [..., Lk, d_v] -> out [..., Lq, d_v], "
              "weights [..., Lq, Lk]; mask boolean, True = may attend, broadcastable to [..., Lq, Lk]",
    differentiable=("q", "k", "v"),
    outputs=("out", "weights"),
    cases=(
        Case("self-attention", _qkv((2,), 4, 4, 8, 8), seed=2210, golden=_golden(),
             note="q, k, v of one length: a sequence attending to itself"),
        Case("cross-attention-other-lengths", _qkv((2,), 3, 5, 8, 6), seed=2211, golden=_golden(),
             note="3 queries (a decoder) attend to 5 keys (an encoder); d_v = 6 differs from d_k = 8"),
        Case("causal", _qkv((2,), 5, 5, 4, 3), {"causal": True}, seed=2212, golden=_golden(causal=True),
             note="query i sees keys 0..i"),
        Case("causal-cross-top-left", _qkv((1,), 3, 5, 4, 3), {"causal": True}, seed=2213,
             golden=_golden(causal=True), note="Lq < Lk: the triangle is aligned at the top left, as torch's is_causal"),
        Case("key-padding", _with_mask(_qkv((2,), 4, 5, 8, 8), PADDING), seed=2214, golden=_golden(),
             note="mask [B, 1, Lk]: the last two keys of sample 1 are padding"),
        Case("padding-and-causal", _with_mask(_qkv((2,), 5, 5, 4, 4), PADDING), {"causal": True}, seed=2215,
             golden=_golden(causal=True), note="both masks at once: their AND"),
        Case("fully-masked-row", _with_mask(_qkv((1,), 3, 4, 4, 2), [EMPTY_ROW]), seed=2216, golden=_golden(),
             note="query 1 may attend to no key: zero weights and a zero output (not NaN, not uniform)"),
        Case("length-1", _qkv((3,), 1, 1, 4, 2), seed=2217, golden=_golden(),
             note="one query, one key: the weight is exactly 1 and out = v; every gradient of q and k is 0"),
        Case("heads-4d", _with_mask(_qkv((2, 3), 4, 6, 4, 5), [[[[True] * 6]], [[[True] * 4 + [False] * 2]]]),
             seed=2218, golden=_golden(), note="[batch, heads, L, d] with a mask [B, 1, 1, Lk] broadcast over heads"),
        Case("large-scores", _qkv((2,), 3, 4, 4, 3, scale=30.0), seed=2219, golden=_golden(),
             note="scores ~1e3: exp overflows unless the row's max is subtracted first"),
        Case("by-hand-tie-and-uniform", _by_hand, golden=_by_hand_golden,
             note="scores [1, 0, 1] (two tied keys) and [0, 0, 0]: weights e/(2e+1), 1/(2e+1) and 1/3 each"),
    ),
    error_cases=(
        ErrorCase("float-mask", _error_mask(np.zeros((3, 5))), TypeError,
                  r"scaled_dot_product_attention: mask must be boolean \(True = may attend\), got float64"),
        ErrorCase("mask-shape", _error_mask(np.ones((3, 4), dtype=bool)), ValueError,
                  r"scaled_dot_product_attention: mask of shape \(3, 4\) does not broadcast to the attention "
                  r"scores' shape \(2, 3, 5\)"),
        ErrorCase("mask-rank", _error_mask(np.ones((1, 2, 3, 5), dtype=bool)), ValueError,
                  r"mask of shape \(1, 2, 3, 5\) does not broadcast"),
        ErrorCase("d_k-mismatch", _error(q=(2, 3, 4), k=(2, 5, 3), v=(2, 5, 2)), ValueError,
                  r"scaled_dot_product_attention: k must have the features of q \(d_k = 4\) on its last axis, "
                  r"got shape \(2, 5, 3\)"),
        ErrorCase("v-length", _error(q=(2, 3, 4), k=(2, 5, 4), v=(2, 4, 2)), ValueError,
                  r"v must have one row per key \(Lk = 5\), got shape \(2, 4, 2\)"),
        ErrorCase("batch-mismatch", _error(q=(2, 3, 4), k=(3, 5, 4), v=(3, 5, 2)), ValueError,
                  r"q, k and v must have the same leading \(batch, head\) axes"),
        ErrorCase("rank-1", _error(q=(4,), k=(5, 4), v=(5, 2)), ValueError, r"q must have rank >= 2"),
        ErrorCase("causal-not-bool", _error(q=(2, 3, 4), k=(2, 5, 4), v=(2, 5, 2)), TypeError,
                  r"causal must be True or False, got 1", {"causal": 1}),
    ),
    oracles=(
        Oracle("torch", "F.scaled_dot_product_attention", _torch_sdpa, outputs=("out",)),
        # [batch, length, heads, features] only: rank 3 or 4
        Oracle("tf", "keras.ops.dot_product_attention", _keras_dpa, outputs=("out",),
               applies=lambda case: not _has_empty_row(case) and case.inputs()["q"].ndim in (3, 4)),
    ),
    porting=PORTING,
)
