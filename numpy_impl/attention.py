"""Attention: scaled dot-product attention and multi-head attention, forward and backward
by hand (ゼロから作るDeep Learning ❷ 8章 Attention; Vaswani et al. 2017).

A mask is boolean, True = may attend (shared/concepts/_attention.py). A query whose every
key is masked out attends to nothing: zero weights, zero output.
"""
import math

import numpy as np

from shared.concepts import _attention
from shared.concepts import multi_head_attention as mha_spec
from shared.concepts import scaled_dot_product_attention as sdpa_spec


def _swap(a):
    """The last two axes exchanged: k^T of every batch and head."""
    return np.swapaxes(a, -1, -2)


def allowed(mask, causal, queries, keys):
    """Where a query may attend (broadcastable to the scores), or None for everywhere."""
    if causal:
        triangle = _attention.causal_mask(queries, keys)
        return triangle if mask is None else mask & triangle
    return mask


def masked_softmax(scores, allowed):
    """softmax over the keys of the allowed scores only; 0 where masked, and a row with no
    allowed key is all zeros (its sum of exponentials is 0, not a division by 0)."""
    if allowed is None:
        e = np.exp(scores - scores.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    m = np.max(np.where(allowed, scores, -np.inf), axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)  # the max of an all-masked row is -inf; any shift serves
    e = np.where(allowed, np.exp(np.where(allowed, scores - m, 0.0)), 0.0)
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(total > 0, total, 1.0)


def attend(q, k, v, allowed):
    """(out, weights): weights = softmax(q k^T / sqrt(d_k)) over the allowed keys, out = weights v."""
    scores = q @ _swap(k) / math.sqrt(q.shape[-1])  # a Python float keeps float32 float32
    weights = masked_softmax(scores, allowed)
    return weights @ v, weights


def attend_backward(d_out, d_weights, q, k, v, weights):
    """Gradients of q, k, v; `d_weights` is the cotangent on the weights themselves (None: 0)."""
    dv = _swap(weights) @ d_out
    dw = d_out @ _swap(v)
    if d_weights is not None:
        dw = dw + d_weights
    # softmax's backward; a masked weight is 0, so its score gets no gradient
    ds = weights * (dw - (dw * weights).sum(axis=-1, keepdims=True)) / math.sqrt(q.shape[-1])
    return ds @ k, _swap(ds) @ q, dv


def scaled_dot_product_attention(q, k, v, *, mask=None, causal=False):
    sdpa_spec.validate(q, k, v, mask=mask, causal=causal)
    return attend(q, k, v, allowed(mask, causal, q.shape[-2], k.shape[-2]))


def scaled_dot_product_attention_backward(dy, q, k, v, *, mask=None, causal=False):
    sdpa_spec.validate(q, k, v, mask=mask, causal=causal)
    d_out, d_weights = dy
    _, weights = attend(q, k, v, allowed(mask, causal, q.shape[-2], k.shape[-2]))
    return attend_backward(d_out, d_weights, q, k, v, weights)


def split_heads(x, num_heads):
    """[B, L, d_model] -> [B, heads, L, d_model / heads]: head h holds columns h d_head .. (h+1) d_head - 1."""
    b, length, d = x.shape
    return x.reshape(b, length, num_heads, d // num_heads).transpose(0, 2, 1, 3)


def merge_heads(x):
    """[B, heads, L, d_head] -> [B, L, heads d_head], the inverse of split_heads."""
    b, heads, length, d_head = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, length, heads * d_head)


def _project(query, key, value, params, num_heads):
    return (split_heads(query @ params["Wq"] + params["bq"], num_heads),
            split_heads(key @ params["Wk"] + params["bk"], num_heads),
            split_heads(value @ params["Wv"] + params["bv"], num_heads))


def multi_head_attention(query, key, value, params, *, num_heads, mask=None, causal=False):
    mha_spec.validate(query, key, value, params, num_heads=num_heads, mask=mask, causal=causal)
    q, k, v = _project(query, key, value, params, num_heads)
    heads, weights = attend(q, k, v, allowed(mask, causal, query.shape[1], key.shape[1]))
    return merge_heads(heads) @ params["Wo"] + params["bo"], weights


def multi_head_attention_backward(dy, query, key, value, params, *, num_heads, mask=None, causal=False):
    mha_spec.validate(query, key, value, params, num_heads=num_heads, mask=mask, causal=causal)
    d_out, d_weights = dy
    q, k, v = _project(query, key, value, params, num_heads)
    heads, weights = attend(q, k, v, allowed(mask, causal, query.shape[1], key.shape[1]))
    merged = merge_heads(heads)
    grads = {"Wo": np.einsum("bld,ble->de", merged, d_out), "bo": d_out.sum(axis=(0, 1))}
    dq, dk, dv = attend_backward(split_heads(d_out @ params["Wo"].T, num_heads), d_weights, q, k, v, weights)
    d_inputs = []
    for name, x, d_heads in (("q", query, dq), ("k", key, dk), ("v", value, dv)):
        d_projected = merge_heads(d_heads)
        grads[f"W{name}"] = np.einsum("bld,ble->de", x, d_projected)
        grads[f"b{name}"] = d_projected.sum(axis=(0, 1))
        d_inputs.append(d_projected @ params[f"W{name}"].T)
    return (*d_inputs, {name: grads[name] for name in params})
