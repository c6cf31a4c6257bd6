"""Metric-learning losses 距離学習の損失 in PyTorch from elementary ops, mirroring numpy_impl.metric."""
import torch

from shared.concepts import contrastive_loss as contrastive_spec
from shared.concepts import triplet_loss as triplet_spec
from shared.concepts.contrastive_loss import COSINE_NORM_FLOOR
from torch_impl import numerics


def _reduce(per_pair, reduction):
    if reduction == "mean":
        return per_pair.mean()
    if reduction == "sum":
        return per_pair.sum()
    return per_pair


def _unit(x):
    # the safe root: a zero row sits below the floor, and sqrt'(0) = inf would still reach it as 0 * inf
    return x / torch.clamp(numerics.norm(x, dim=1, keepdim=True), min=COSINE_NORM_FLOOR)


def contrastive_loss(x1, x2, y, *, margin=1.0, distance="euclidean", reduction="mean"):
    contrastive_spec.validate(x1, x2, y, margin=margin, distance=distance, reduction=reduction)
    y = y.to(x1.dtype)
    if distance == "euclidean":
        d = numerics.norm(x1 - x2, dim=1)
    else:
        d = 1 - (_unit(x1) * _unit(x2)).sum(dim=1)
    per_pair = 0.5 * (y * d ** 2 + (1 - y) * torch.clamp(margin - d, min=0) ** 2)
    return _reduce(per_pair, reduction)


def _distance(u, v, p_norm, eps):
    # eps on the difference, as torch's pairwise_distance: z is never exactly 0, so the norm's gradient is finite
    # scaled (numerics.py): torch.linalg.vector_norm overflows at 1e30 in float32
    return numerics.p_norm(u - v + eps, p_norm, dim=1)


def triplet_loss(a, p, n, *, margin=1.0, p_norm=2, eps=1e-6, swap=False, squared=False, reduction="mean"):
    triplet_spec.validate(a, p, n, margin=margin, p_norm=p_norm, eps=eps, swap=swap, squared=squared,
                          reduction=reduction)
    d_pos = _distance(a, p, p_norm, eps)
    d_neg = _distance(a, n, p_norm, eps)
    if swap:
        # where the two tie, d(a, n) is kept (and takes the gradient); torch.minimum would split it
        d_pn = _distance(p, n, p_norm, eps)
        d_neg = torch.where(d_pn < d_neg, d_pn, d_neg)
    # relu: a triplet exactly at the margin (h = 0) is satisfied and gets no gradient, as
    # NumPy's h > 0; clamp(min=0) would pass the gradient there (F.triplet_margin_loss does)
    # squared: scaled, the squares of 1e30-sized distances overflow float32 (numerics.py)
    hinge = numerics.hinge_of_squares(margin, d_pos, d_neg) if squared else margin + d_pos - d_neg
    return _reduce(torch.relu(hinge), reduction)
