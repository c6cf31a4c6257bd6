"""The Transformer's other building blocks with autograd: token embedding, the sinusoidal
positional encoding, layer norm and RMS norm."""
import torch

from shared.concepts import embedding as embedding_spec
from shared.concepts import layer_norm as ln_spec
from shared.concepts import positional_encoding as pe_spec
from shared.concepts import rms_norm as rms_spec
from torch_impl import numerics


def embedding(ids, W, *, padding_idx=None):
    embedding_spec.validate(ids, W, padding_idx=padding_idx)
    rows = W[ids]
    if padding_idx is None:
        return rows
    # the padding token's rows carry W's value but, detached, send it no gradient
    return torch.where((ids == padding_idx)[..., None], rows.detach(), rows)


def positional_encoding(positions, *, d_model, base=pe_spec.BASE):
    pe_spec.validate(positions, d_model=d_model, base=base)
    exponents = torch.arange(0, d_model, 2, dtype=positions.dtype, device=positions.device) / d_model
    angles = positions[..., None] * (1.0 / base ** exponents)
    return torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).reshape(*positions.shape, d_model)


def _standardise(x, eps):
    centred = numerics.centred(x, -1)
    return centred / numerics.std(centred, -1, eps)


def layer_norm(x, gamma, beta, *, eps=ln_spec.DEFAULT_EPS):
    ln_spec.validate(x, gamma, beta, eps=eps)
    return gamma * _standardise(x, eps) + beta


def rms_norm(x, gamma, *, eps=rms_spec.DEFAULT_EPS):
    rms_spec.validate(x, gamma, eps=eps)
    return gamma * (x / numerics.std(x, -1, eps))
