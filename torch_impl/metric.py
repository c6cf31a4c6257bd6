"""Metric-learning losses 距離学習の損失 in PyTorch from elementary ops, mirroring numpy_impl.metric."""
import torch

from shared.concepts import contrastive_loss as contrastive_spec
from shared.concepts import triplet_loss as triplet_spec
from shared.concepts.contrastive_loss import COSINE_NORM_FLOOR


def _reduce(per_pair, reduction):
    if reduction == "mean":
        return per_pair.mean()
    if reduction == "sum":
        return per_pair.sum()
    return per_pair


def _safe_sqrt(s):
    # sqrt'(0) = inf, and inf * 0 = NaN in the chain rule: take the root of 1 where s = 0 and
    # select 0, so the gradient there is the subgradient 0 (the where's unselected branch gets 0)
    positive = s > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, s, torch.ones_like(s))), torch.zeros_like(s))


def _unit(x):
    # the safe root: a zero row sits below the floor, and sqrt'(0) = inf would still reach it as 0 * inf
    return x / torch.clamp(_safe_sqrt((x * x).sum(dim=1, keepdim=True)), min=COSINE_NORM_FLOOR)


def contrastive_loss(x1, x2, y, *, margin=1.0, distance="euclidean", reduction="mean"):
    contrastive_spec.validate(x1, x2, y, margin=margin, distance=distance, reduction=reduction)
    y = y.to(x1.dtype)
    if distance == "euclidean":
        d = _safe_sqrt(((x1 - x2) ** 2).sum(dim=1))
    else:
        d = 1 - (_unit(x1) * _unit(x2)).sum(dim=1)
    per_pair = 0.5 * (y * d ** 2 + (1 - y) * torch.clamp(margin - d, min=0) ** 2)
    return _reduce(per_pair, reduction)


def _distance(u, v, p_norm, eps, squared):
    # eps on the difference, as torch's pairwise_distance: z is never exactly 0, so the norm's gradient is finite
    d = torch.linalg.vector_norm(u - v + eps, ord=p_norm, dim=1)
    return d ** 2 if squared else d


def triplet_loss(a, p, n, *, margin=1.0, p_norm=2, eps=1e-6, swap=False, squared=False, reduction="mean"):
    triplet_spec.validate(a, p, n, margin=margin, p_norm=p_norm, eps=eps, swap=swap, squared=squared,
                          reduction=reduction)
    d_pos = _distance(a, p, p_norm, eps, squared)
    d_neg = _distance(a, n, p_norm, eps, squared)
    if swap:
        # where the two tie, d(a, n) is kept (and takes the gradient); torch.minimum would split it
        d_pn = _distance(p, n, p_norm, eps, squared)
        d_neg = torch.where(d_pn < d_neg, d_pn, d_neg)
    # relu: a triplet exactly at the margin (h = 0) is satisfied and gets no gradient, as
    # NumPy's h > 0; clamp(min=0) would pass the gradient there (F.triplet_margin_loss does)
    return _reduce(torch.relu(margin + d_pos - d_neg), reduction)
