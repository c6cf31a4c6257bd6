"""The Transformer's building blocks besides attention, with GradientTape: token embedding, the
sinusoidal positional encoding, layer norm, RMS norm, and the encoder and decoder layers."""
import tensorflow as tf

from shared.concepts import _transformer
from shared.concepts import embedding as embedding_spec
from shared.concepts import layer_norm as ln_spec
from shared.concepts import positional_encoding as pe_spec
from shared.concepts import rms_norm as rms_spec
from shared.concepts import transformer_decoder_layer as decoder_spec
from shared.concepts import transformer_encoder_layer as encoder_spec
from tf_impl import activations, attention, numerics


def embedding(ids, W, *, padding_idx=None):
    embedding_spec.validate(ids, W, padding_idx=padding_idx)
    rows = tf.gather(W, ids)
    if padding_idx is None:
        return rows
    # the padding token's rows carry W's value but send it no gradient
    return tf.where((ids == padding_idx)[..., None], tf.stop_gradient(rows), rows)


def positional_encoding(positions, *, d_model, base=pe_spec.BASE):
    pe_spec.validate(positions, d_model=d_model, base=base)
    exponents = tf.range(0, d_model, 2, dtype=positions.dtype) / d_model
    angles = positions[..., None] * (1.0 / base ** exponents)
    return tf.reshape(tf.stack([tf.sin(angles), tf.cos(angles)], axis=-1), tuple(positions.shape) + (d_model,))


def _standardise(x, eps):
    centred = numerics.centred(x, -1)
    return centred / numerics.std(centred, -1, eps)


def layer_norm(x, gamma, beta, *, eps=ln_spec.DEFAULT_EPS):
    ln_spec.validate(x, gamma, beta, eps=eps)
    return gamma * _standardise(x, eps) + beta


def rms_norm(x, gamma, *, eps=rms_spec.DEFAULT_EPS):
    rms_spec.validate(x, gamma, eps=eps)
    return gamma * (x / numerics.std(x, -1, eps))
# ---- encoder and decoder layers (shared/concepts/_transformer.py) ---------------------

def _activate(z, activation):
    if activation == "relu":
        return activations.relu(z)
    # our gelu, not tf.nn.gelu: in float64 that one multiplies by 1/sqrt(2) rounded to float32
    # (math_ops.cast of a Python float), 5e-9 off
    return activations.gelu(z, approximate="tanh" if activation == "gelu_tanh" else "none")


def _drop(x, masks, key, p):
    return x if masks is None else x * masks[key] / (1 - p)


def _sublayer(kind, h, memory, params, masks, o):
    if kind == "ff":
        hidden = _drop(_activate(h @ params["W1"] + params["b1"], o["activation"]), masks, "ff", o["dropout"])
        return hidden @ params["W2"] + params["b2"]
    source, mask = (h, o["mask"]) if kind == "self_attn" else (memory, o["memory_mask"])
    return attention.multi_head_attention(h, source, source, params[kind], num_heads=o["num_heads"], mask=mask,
                                          causal=o["causal"] and kind == "self_attn")[0]


def _layer(sublayers, x, memory, params, masks, o):
    h = x
    for kind, norm, key in sublayers:
        g, b = params[norm]["gamma"], params[norm]["beta"]
        if o["norm_first"]:
            h = h + _drop(_sublayer(kind, layer_norm(h, g, b, eps=o["eps"]), memory, params, masks, o), masks, key,
                          o["dropout"])
        else:
            h = layer_norm(h + _drop(_sublayer(kind, h, memory, params, masks, o), masks, key, o["dropout"]), g, b,
                           eps=o["eps"])
    return h


def transformer_encoder_layer(x, params, dropout_masks=None, *, num_heads, mask=None, causal=False, norm_first=False,
                              activation="relu", eps=1e-5, dropout=0.0):
    o = dict(num_heads=num_heads, mask=mask, memory_mask=None, causal=causal, norm_first=norm_first,
             activation=activation, eps=eps, dropout=dropout)
    encoder_spec.validate(x, params, dropout_masks, **o)
    return _layer(_transformer.ENCODER, x, None, params, dropout_masks, o)


def transformer_decoder_layer(x, memory, params, dropout_masks=None, *, num_heads, mask=None, memory_mask=None,
                              causal=False, norm_first=False, activation="relu", eps=1e-5, dropout=0.0):
    o = dict(num_heads=num_heads, mask=mask, memory_mask=memory_mask, causal=causal, norm_first=norm_first,
             activation=activation, eps=eps, dropout=dropout)
    decoder_spec.validate(x, memory, params, dropout_masks, **o)
    return _layer(_transformer.DECODER, x, memory, params, dropout_masks, o)
