"""Attention with autograd: scaled dot-product attention and multi-head attention.

A mask is boolean, True = may attend (shared/concepts/_attention.py); a query whose every
key is masked out gets zero weights and a zero output.
"""
import math

import torch

from shared.concepts import multi_head_attention as mha_spec
from shared.concepts import scaled_dot_product_attention as sdpa_spec


def allowed(mask, causal, queries, keys, device):
    """Where a query may attend (broadcastable to the scores), or None for everywhere."""
    if causal:
        triangle = torch.ones(queries, keys, dtype=torch.bool, device=device).tril()
        return triangle if mask is None else mask & triangle
    return mask


def masked_softmax(scores, allowed):
    """softmax over the allowed keys; 0 where masked and on a row with no allowed key."""
    if allowed is None:
        return torch.softmax(scores, dim=-1)
    zero = torch.zeros((), dtype=scores.dtype, device=scores.device)
    # a constant shift, so detached; an all-masked row's max is -inf: any shift serves there
    m = torch.where(allowed, scores, -math.inf).amax(dim=-1, keepdim=True).detach()
    m = torch.where(torch.isfinite(m), m, zero)
    # exp only of allowed scores: a masked one could overflow, and where's backward would
    # then meet inf * 0 = NaN in the branch it did not take
    e = torch.where(allowed, torch.exp(torch.where(allowed, scores - m, zero)), zero)
    total = e.sum(dim=-1, keepdim=True)
    return e / torch.where(total > 0, total, torch.ones_like(total))


def attend(q, k, v, allowed):
    weights = masked_softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), allowed)
    return weights @ v, weights


def scaled_dot_product_attention(q, k, v, *, mask=None, causal=False):
    sdpa_spec.validate(q, k, v, mask=mask, causal=causal)
    return attend(q, k, v, allowed(mask, causal, q.shape[-2], k.shape[-2], q.device))


def split_heads(x, num_heads):
    """[B, L, d_model] -> [B, heads, L, d_model / heads]."""
    b, length, d = x.shape
    return x.reshape(b, length, num_heads, d // num_heads).transpose(1, 2)


def merge_heads(x):
    b, heads, length, d_head = x.shape
    return x.transpose(1, 2).reshape(b, length, heads * d_head)


def multi_head_attention(query, key, value, params, *, num_heads, mask=None, causal=False):
    mha_spec.validate(query, key, value, params, num_heads=num_heads, mask=mask, causal=causal)
    q = split_heads(query @ params["Wq"] + params["bq"], num_heads)
    k = split_heads(key @ params["Wk"] + params["bk"], num_heads)
    v = split_heads(value @ params["Wv"] + params["bv"], num_heads)
    heads, weights = attend(q, k, v, allowed(mask, causal, query.shape[1], key.shape[1], query.device))
    return merge_heads(heads) @ params["Wo"] + params["bo"], weights
