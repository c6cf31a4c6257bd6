"""What the attention concepts share: the boolean mask's contract, its validation, and the
cases' inputs.

A mask is boolean with True = may attend, as `F.scaled_dot_product_attention`'s boolean
`attn_mask` and Keras' `attention_mask`; torch's `nn.MultiheadAttention` means the opposite
(True = masked out, for `attn_mask` and `key_padding_mask`: porting cases measure it).
`causal=True` adds the lower-triangular mask aligned at the top left (query i sees keys
0..i), as torch's `is_causal` and Keras' `use_causal_mask` do. A query whose every key is
masked out gets zero weights and a zero output: what F.scaled_dot_product_attention and
Keras' MultiHeadAttention give, where nn.MultiheadAttention gives NaN and
keras.ops.dot_product_attention uniform weights.
"""
from __future__ import annotations

import math

import numpy as np

from shared import checks


def validate_mask(concept: str, mask, scores: tuple[int, ...], causal) -> None:
    """`mask` None or boolean, broadcastable to the scores' shape [..., Lq, Lk]."""
    checks.require_bool(concept, "causal", causal)
    if mask is None:
        return
    checks.require_array(concept, "mask", mask)
    if checks.dtype_name(mask) != "bool":
        raise TypeError(f"{concept}: mask must be boolean (True = may attend), got {checks.dtype_name(mask)}; "
                        "for an additive float mask (0 / -inf) pass mask=(additive == 0)")
    shape = checks.shape_of(mask)
    if len(shape) > len(scores) or any(m not in (1, s) for m, s in zip(shape[::-1], scores[::-1])):
        raise ValueError(f"{concept}: mask of shape {shape} does not broadcast to the attention scores' "
                         f"shape {scores} ([..., queries, keys])")


def causal_mask(queries: int, keys: int) -> np.ndarray:
    """[Lq, Lk], True where key j <= query i: the top-left aligned lower triangle."""
    return np.tril(np.ones((queries, keys), dtype=bool))


def looped_attention(q, k, v, mask=None, causal=False):
    """(out, weights) one query at a time in Python floats, from the definition: the golden
    values the vectorised implementations are held to."""
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    lq, lk = q.shape[-2], k.shape[-2]
    allowed = np.ones(q.shape[:-2] + (lq, lk), dtype=bool)
    if mask is not None:
        allowed = allowed & np.asarray(mask)
    if causal:
        allowed = allowed & causal_mask(lq, lk)
    out = np.zeros(q.shape[:-1] + (v.shape[-1],))
    weights = np.zeros(allowed.shape)
    for index in np.ndindex(*q.shape[:-2], lq):
        batch, i = index[:-1], index[-1]
        keys = [j for j in range(lk) if allowed[batch + (i, j)]]
        if not keys:
            continue  # nothing to attend to: zero weights and output
        scores = {j: sum(float(a) * float(b) for a, b in zip(q[index], k[batch + (j,)])) / math.sqrt(q.shape[-1])
                  for j in keys}
        top = max(scores.values())
        total = sum(math.exp(s - top) for s in scores.values())
        for j in keys:
            weights[batch + (i, j)] = math.exp(scores[j] - top) / total
            out[index] += weights[batch + (i, j)] * v[batch + (j,)]
    return out, weights
