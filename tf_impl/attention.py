"""Attention with GradientTape: scaled dot-product attention and multi-head attention.

A mask is boolean, True = may attend (shared/concepts/_attention.py); a query whose every
key is masked out gets zero weights and a zero output.
"""
import math

import tensorflow as tf

from shared.concepts import multi_head_attention as mha_spec
from shared.concepts import scaled_dot_product_attention as sdpa_spec


def allowed(mask, causal, queries, keys):
    """Where a query may attend (broadcastable to the scores), or None for everywhere."""
    if causal:
        triangle = tf.linalg.band_part(tf.ones((queries, keys), dtype=tf.bool), -1, 0)
        return triangle if mask is None else tf.logical_and(mask, triangle)
    return mask


def masked_softmax(scores, allowed):
    """softmax over the allowed keys; 0 where masked and on a row with no allowed key."""
    if allowed is None:
        return tf.nn.softmax(scores, axis=-1)
    allowed = tf.broadcast_to(allowed, tf.shape(scores))
    zero = tf.zeros_like(scores)
    # a constant shift, so no gradient; an all-masked row's max is -inf: any shift serves there
    m = tf.stop_gradient(tf.reduce_max(tf.where(allowed, scores, -math.inf), axis=-1, keepdims=True))
    m = tf.where(tf.math.is_finite(m), m, tf.zeros_like(m))
    # exp only of allowed scores: a masked one could overflow, and where's gradient would
    # then meet inf * 0 = NaN in the branch it did not take
    e = tf.where(allowed, tf.exp(tf.where(allowed, scores - m, zero)), zero)
    total = tf.reduce_sum(e, axis=-1, keepdims=True)
    return e / tf.where(total > 0, total, tf.ones_like(total))


def attend(q, k, v, allowed):
    d_k = q.shape[-1]
    weights = masked_softmax(tf.matmul(q, k, transpose_b=True) / math.sqrt(d_k), allowed)
    return tf.matmul(weights, v), weights


def scaled_dot_product_attention(q, k, v, *, mask=None, causal=False):
    sdpa_spec.validate(q, k, v, mask=mask, causal=causal)
    return attend(q, k, v, allowed(mask, causal, q.shape[-2], k.shape[-2]))


def split_heads(x, num_heads):
    """[B, L, d_model] -> [B, heads, L, d_model / heads]."""
    b, length, d = x.shape
    return tf.transpose(tf.reshape(x, (b, length, num_heads, d // num_heads)), (0, 2, 1, 3))


def merge_heads(x):
    b, heads, length, d_head = x.shape
    return tf.reshape(tf.transpose(x, (0, 2, 1, 3)), (b, length, heads * d_head))


def multi_head_attention(query, key, value, params, *, num_heads, mask=None, causal=False):
    mha_spec.validate(query, key, value, params, num_heads=num_heads, mask=mask, causal=causal)
    q = split_heads(query @ params["Wq"] + params["bq"], num_heads)
    k = split_heads(key @ params["Wk"] + params["bk"], num_heads)
    v = split_heads(value @ params["Wv"] + params["bv"], num_heads)
    heads, weights = attend(q, k, v, allowed(mask, causal, query.shape[1], key.shape[1]))
    return merge_heads(heads) @ params["Wo"] + params["bo"], weights
