"""The Transformer's building blocks besides attention, forward and backward by hand: token
embedding (the book ❷'s Embedding), the sinusoidal positional encoding, layer norm and RMS
norm, and the encoder and decoder layers that put them together with attention."""
import numpy as np

from numpy_impl import activations, attention, numerics
from shared.concepts import _transformer
from shared.concepts import embedding as embedding_spec
from shared.concepts import layer_norm as ln_spec
from shared.concepts import positional_encoding as pe_spec
from shared.concepts import rms_norm as rms_spec
from shared.concepts import transformer_decoder_layer as decoder_spec
from shared.concepts import transformer_encoder_layer as encoder_spec


def embedding(ids, W, *, padding_idx=None):
    embedding_spec.validate(ids, W, padding_idx=padding_idx)
    return W[ids]


def embedding_backward(dy, ids, W, *, padding_idx=None):
    embedding_spec.validate(ids, W, padding_idx=padding_idx)
    dW = np.zeros_like(W)
    # add.at, not dW[ids] += dy: a token seen twice must get both gradients, not the last one
    np.add.at(dW, ids, dy)
    if padding_idx is not None:
        dW[padding_idx] = 0.0
    return dW


def _frequencies(d_model, base, dtype):
    """w_i = base^(-2i / d_model), one per sine-cosine pair."""
    return (1.0 / base ** (np.arange(0, d_model, 2) / d_model)).astype(dtype)


def positional_encoding(positions, *, d_model, base=pe_spec.BASE):
    pe_spec.validate(positions, d_model=d_model, base=base)
    angles = positions[..., None] * _frequencies(d_model, base, positions.dtype)
    # interleaved: column 2i the sine, 2i + 1 the cosine of the same angle
    return np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(positions.shape + (d_model,))


def positional_encoding_backward(dy, positions, *, d_model, base=pe_spec.BASE):
    pe_spec.validate(positions, d_model=d_model, base=base)
    w = _frequencies(d_model, base, positions.dtype)
    angles = positions[..., None] * w
    d_sin, d_cos = dy[..., 0::2], dy[..., 1::2]
    return (w * (np.cos(angles) * d_sin - np.sin(angles) * d_cos)).sum(axis=-1)


def _standardise(x, eps):
    """(x_hat, std) over the last axis, with the token's own mean and biased variance."""
    centred = numerics.centred(x, -1)
    std = numerics.std(centred, -1, eps)
    return centred / std, std


def layer_norm(x, gamma, beta, *, eps=ln_spec.DEFAULT_EPS):
    ln_spec.validate(x, gamma, beta, eps=eps)
    x_hat, _ = _standardise(x, eps)
    return gamma * x_hat + beta


def layer_norm_backward(dy, x, gamma, beta, *, eps=ln_spec.DEFAULT_EPS):
    ln_spec.validate(x, gamma, beta, eps=eps)
    x_hat, std = _standardise(x, eps)
    tokens = tuple(range(x.ndim - 1))  # gamma and beta are shared by every token
    dgamma, dbeta = (dy * x_hat).sum(axis=tokens), dy.sum(axis=tokens)
    # batch norm's backward with the token's features in place of the batch
    dx_hat = dy * gamma
    dx = (dx_hat - dx_hat.mean(axis=-1, keepdims=True)
          - x_hat * (dx_hat * x_hat).mean(axis=-1, keepdims=True)) / std
    return dx, dgamma, dbeta


def _root_mean_square(x, eps):
    # numerics.std of x itself, not centred: sqrt(mean(x^2) + eps), scaled before squaring
    return numerics.std(x, -1, eps)


def rms_norm(x, gamma, *, eps=rms_spec.DEFAULT_EPS):
    rms_spec.validate(x, gamma, eps=eps)
    return gamma * (x / _root_mean_square(x, eps))


def rms_norm_backward(dy, x, gamma, *, eps=rms_spec.DEFAULT_EPS):
    rms_spec.validate(x, gamma, eps=eps)
    r = _root_mean_square(x, eps)
    x_hat = x / r
    dgamma = (dy * x_hat).sum(axis=tuple(range(x.ndim - 1)))
    # layer norm's backward without the mean's term: r depends on every x of the token
    dx_hat = dy * gamma
    return (dx_hat - x_hat * (dx_hat * x_hat).mean(axis=-1, keepdims=True)) / r, dgamma


# ---- encoder and decoder layers (shared/concepts/_transformer.py) ---------------------

def _activate(z, activation):
    if activation == "relu":
        return activations.relu(z)
    return activations.gelu(z, approximate="tanh" if activation == "gelu_tanh" else "none")


def _activate_backward(dy, z, activation):
    if activation == "relu":
        return activations.relu_backward(dy, z)
    return activations.gelu_backward(dy, z, approximate="tanh" if activation == "gelu_tanh" else "none")


def _drop(x, masks, key, p):
    """Inverted dropout with the injected mask; its backward is the same product."""
    return x if masks is None else x * masks[key] / (1 - p)


def _sum_tokens(a):
    return a.reshape(-1, a.shape[-1]).sum(axis=0)


def _sublayer(kind, h, memory, params, masks, o):
    """One sublayer's output and what its backward needs."""
    if kind == "ff":
        z = h @ params["W1"] + params["b1"]
        hidden = _drop(_activate(z, o["activation"]), masks, "ff", o["dropout"])
        return hidden @ params["W2"] + params["b2"], (z, hidden)
    source, mask = (h, o["mask"]) if kind == "self_attn" else (memory, o["memory_mask"])
    out, _ = attention.multi_head_attention(h, source, source, params[kind], num_heads=o["num_heads"], mask=mask,
                                            causal=o["causal"] and kind == "self_attn")
    return out, None


def _sublayer_backward(kind, d_out, h, memory, params, masks, cache, o, grads):
    """dh (and, for cross-attention, the memory's gradient added to grads["memory"])."""
    if kind == "ff":
        z, hidden = cache
        grads["W2"], grads["b2"] = hidden.reshape(-1, hidden.shape[-1]).T @ d_out.reshape(-1, d_out.shape[-1]), \
            _sum_tokens(d_out)
        dz = _activate_backward(_drop(d_out @ params["W2"].T, masks, "ff", o["dropout"]), z, o["activation"])
        grads["W1"], grads["b1"] = h.reshape(-1, h.shape[-1]).T @ dz.reshape(-1, dz.shape[-1]), _sum_tokens(dz)
        return dz @ params["W1"].T
    source, mask = (h, o["mask"]) if kind == "self_attn" else (memory, o["memory_mask"])
    dq, dk, dv, grads[kind] = attention.multi_head_attention_backward(
        (d_out, None), h, source, source, params[kind], num_heads=o["num_heads"], mask=mask,
        causal=o["causal"] and kind == "self_attn")
    if kind == "self_attn":
        return dq + dk + dv
    grads["memory"] = grads.get("memory", 0) + dk + dv
    return dq


def _layer_forward(sublayers, x, memory, params, masks, o):
    """Run the sublayers; returns y and, per sublayer, what its backward needs."""
    h, tape = x, []
    for kind, norm, key in sublayers:
        g, b = params[norm]["gamma"], params[norm]["beta"]
        inner = layer_norm(h, g, b, eps=o["eps"]) if o["norm_first"] else h
        out, cache = _sublayer(kind, inner, memory, params, masks, o)
        residual = h + _drop(out, masks, key, o["dropout"])
        tape.append((h, inner, residual, cache))
        h = residual if o["norm_first"] else layer_norm(residual, g, b, eps=o["eps"])
    return h, tape


def _layer_backward(sublayers, dy, x, memory, params, masks, o):
    _, tape = _layer_forward(sublayers, x, memory, params, masks, o)
    grads, dh = {}, dy
    for (kind, norm, key), (h, inner, residual, cache) in zip(reversed(sublayers), reversed(tape)):
        g, b = params[norm]["gamma"], params[norm]["beta"]
        if o["norm_first"]:  # h_next = h + drop(sublayer(norm(h)))
            d_inner = _sublayer_backward(kind, _drop(dh, masks, key, o["dropout"]), inner, memory, params, masks,
                                         cache, o, grads)
            d_norm, dg, db = layer_norm_backward(d_inner, h, g, b, eps=o["eps"])
            dh = dh + d_norm
        else:  # h_next = norm(h + drop(sublayer(h)))
            d_residual, dg, db = layer_norm_backward(dh, residual, g, b, eps=o["eps"])
            dh = d_residual + _sublayer_backward(kind, _drop(d_residual, masks, key, o["dropout"]), h, memory,
                                                 params, masks, cache, o, grads)
        grads[norm] = {"gamma": dg, "beta": db}
    return dh, grads


def transformer_encoder_layer(x, params, dropout_masks=None, *, num_heads, mask=None, causal=False, norm_first=False,
                              activation="relu", eps=1e-5, dropout=0.0):
    o = dict(num_heads=num_heads, mask=mask, memory_mask=None, causal=causal, norm_first=norm_first,
                 activation=activation, eps=eps, dropout=dropout)
    encoder_spec.validate(x, params, dropout_masks, **o)
    return _layer_forward(_transformer.ENCODER, x, None, params, dropout_masks, o)[0]


def transformer_encoder_layer_backward(dy, x, params, dropout_masks=None, *, num_heads, mask=None, causal=False,
                                       norm_first=False, activation="relu", eps=1e-5, dropout=0.0):
    o = dict(num_heads=num_heads, mask=mask, memory_mask=None, causal=causal, norm_first=norm_first,
                 activation=activation, eps=eps, dropout=dropout)
    encoder_spec.validate(x, params, dropout_masks, **o)
    dx, grads = _layer_backward(_transformer.ENCODER, dy, x, None, params, dropout_masks, o)
    return dx, {name: grads[name] for name in params}


def transformer_decoder_layer(x, memory, params, dropout_masks=None, *, num_heads, mask=None, memory_mask=None,
                              causal=False, norm_first=False, activation="relu", eps=1e-5, dropout=0.0):
    o = dict(num_heads=num_heads, mask=mask, memory_mask=memory_mask, causal=causal, norm_first=norm_first,
                 activation=activation, eps=eps, dropout=dropout)
    decoder_spec.validate(x, memory, params, dropout_masks, **o)
    return _layer_forward(_transformer.DECODER, x, memory, params, dropout_masks, o)[0]


def transformer_decoder_layer_backward(dy, x, memory, params, dropout_masks=None, *, num_heads, mask=None,
                                       memory_mask=None, causal=False, norm_first=False, activation="relu", eps=1e-5,
                                       dropout=0.0):
    o = dict(num_heads=num_heads, mask=mask, memory_mask=memory_mask, causal=causal, norm_first=norm_first,
                 activation=activation, eps=eps, dropout=dropout)
    decoder_spec.validate(x, memory, params, dropout_masks, **o)
    dx, grads = _layer_backward(_transformer.DECODER, dy, x, memory, params, dropout_masks, o)
    return dx, grads.pop("memory"), {name: grads[name] for name in params}
