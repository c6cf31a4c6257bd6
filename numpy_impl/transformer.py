"""The Transformer's other building blocks, forward and backward by hand: token embedding
(the book ❷'s Embedding), the sinusoidal positional encoding, layer norm and RMS norm."""
import numpy as np

from numpy_impl import numerics
from shared.concepts import embedding as embedding_spec
from shared.concepts import layer_norm as ln_spec
from shared.concepts import positional_encoding as pe_spec
from shared.concepts import rms_norm as rms_spec


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
