"""Metric-learning losses 距離学習の損失 with hand-written backward passes.

contrastive_loss 対照損失 (コントラスティブ損失) scores pairs, triplet_loss トリプレット損失
scores (anchor, positive, negative) triples; both only see distances between embeddings.
"""
import numpy as np

from numpy_impl import numerics
from shared.concepts import contrastive_loss as contrastive_spec
from shared.concepts import triplet_loss as triplet_spec
from shared.concepts.contrastive_loss import COSINE_NORM_FLOOR


def _reduce(per_pair, reduction):
    if reduction == "mean":
        return per_pair.mean()
    if reduction == "sum":
        return per_pair.sum()
    return per_pair


def _unreduce(dy, n, reduction, dtype):
    """The gradient of the reduction: dy / N per pair (mean), dy (sum), dy itself (none)."""
    if reduction == "none":
        return np.asarray(dy, dtype=dtype)
    return np.full(n, dy / (n if reduction == "mean" else 1), dtype=dtype)


def _unit(x):
    """x / max(||x||, floor) per row, and the norm; the floor keeps a zero row finite."""
    norm = numerics.norm(x, axis=1, keepdims=True)  # scaled: 1e30-sized rows do not overflow
    return x / np.maximum(norm, COSINE_NORM_FLOOR), norm


def _unit_backward(g, u, norm):
    # above the floor u = x / ||x||, whose Jacobian (I - u u^T) / ||x|| drops g's radial part;
    # below it u = x / floor, a plain scaling
    radial = np.where(norm >= COSINE_NORM_FLOOR, np.sum(u * g, axis=1, keepdims=True), 0.0)
    return (g - u * radial) / np.maximum(norm, COSINE_NORM_FLOOR)


def _pair_distance(x1, x2, distance):
    if distance == "euclidean":
        return numerics.norm(x1 - x2, axis=1)
    u1, _ = _unit(x1)
    u2, _ = _unit(x2)
    return 1 - np.sum(u1 * u2, axis=1)


def contrastive_loss(x1, x2, y, *, margin=1.0, distance="euclidean", reduction="mean"):
    contrastive_spec.validate(x1, x2, y, margin=margin, distance=distance, reduction=reduction)
    y = y.astype(x1.dtype)
    d = _pair_distance(x1, x2, distance)
    # similar pairs (y = 1) pay for any distance, dissimilar ones only inside the margin
    per_pair = 0.5 * (y * d ** 2 + (1 - y) * np.maximum(margin - d, 0) ** 2)
    return _reduce(per_pair, reduction)


def contrastive_loss_backward(dy, x1, x2, y, *, margin=1.0, distance="euclidean", reduction="mean"):
    contrastive_spec.validate(x1, x2, y, margin=margin, distance=distance, reduction=reduction)
    y = y.astype(x1.dtype)
    d = _pair_distance(x1, x2, distance)
    d_pair = _unreduce(dy, len(d), reduction, x1.dtype)
    # dL_i/dd_i = y d - (1 - y) max(m - d, 0)
    d_dist = (d_pair * (y * d - (1 - y) * np.maximum(margin - d, 0)))[:, None]
    if distance == "euclidean":
        diff = x1 - x2
        # dd/dx1 = (x1 - x2) / d has no limit at d = 0 (it depends on the direction of
        # approach); we take the subgradient 0 there, as torch's vector_norm does
        direction = np.divide(diff, d[:, None], out=np.zeros_like(diff), where=d[:, None] > 0)
        dx1 = d_dist * direction
        return dx1, -dx1
    u1, n1 = _unit(x1)
    u2, n2 = _unit(x2)
    # d = 1 - <u1, u2>: dd/du1 = -u2, dd/du2 = -u1, then through the normalisation
    return _unit_backward(-d_dist * u2, u1, n1), _unit_backward(-d_dist * u1, u2, n2)


def _p_distance(z, p):
    """||z||_p per row and its gradient dd/dz = sign(z) |z|^(p-1) / d^(p-1)."""
    a = np.abs(z)
    d = numerics.p_norm(z, p, axis=1)  # scaled: |z|^p of 1e30-sized rows would overflow
    # z carries eps > 0 (the validator insists), so d > 0 even at a == p and the division is safe
    grad = np.sign(z) * (a / d[:, None]) ** (p - 1)
    return d, grad


def _triplet_parts(a, p, n, margin, p_norm, eps, swap, squared):
    """Per row: the hinge argument, and (distance, d distance/d difference) for a-p, a-n, p-n."""
    parts = {}
    for name, (u, v) in {"ap": (a, p), "an": (a, n), "pn": (p, n)}.items():
        # eps is added to the DIFFERENCE, as torch's pairwise_distance does: ||u - v + eps||_p,
        # so d(x, x) = eps D^(1/p) > 0 and its gradient stays finite
        d, grad = _p_distance(u - v + eps, p_norm)
        parts[name] = (d, 2 * d[:, None] * grad if squared else grad)  # d(d^2) = 2 d dd
    d_neg = parts["an"][0]
    use_pn = np.zeros(len(d_neg), dtype=bool)
    if swap:
        # the harder of the two negatives' distances (Balntas et al. 2016)
        use_pn = parts["pn"][0] < d_neg
        d_neg = np.where(use_pn, parts["pn"][0], d_neg)
    if squared:  # scaled: the squares of 1e30-sized distances overflow float32 (numerics.py)
        return numerics.hinge_of_squares(margin, parts["ap"][0], d_neg), parts, use_pn
    return margin + parts["ap"][0] - d_neg, parts, use_pn


def triplet_loss(a, p, n, *, margin=1.0, p_norm=2, eps=1e-6, swap=False, squared=False, reduction="mean"):
    triplet_spec.validate(a, p, n, margin=margin, p_norm=p_norm, eps=eps, swap=swap, squared=squared,
                          reduction=reduction)
    hinge, _, _ = _triplet_parts(a, p, n, margin, p_norm, eps, swap, squared)
    return _reduce(np.maximum(hinge, 0), reduction)


def triplet_loss_backward(dy, a, p, n, *, margin=1.0, p_norm=2, eps=1e-6, swap=False, squared=False,
                          reduction="mean"):
    triplet_spec.validate(a, p, n, margin=margin, p_norm=p_norm, eps=eps, swap=swap, squared=squared,
                          reduction=reduction)
    hinge, parts, use_pn = _triplet_parts(a, p, n, margin, p_norm, eps, swap, squared)
    # max(h, 0): the gradient flows only through triplets that still violate the margin
    g = (_unreduce(dy, len(hinge), reduction, a.dtype) * (hinge > 0))[:, None]
    g_ap = g * parts["ap"][1]
    g_an = np.where(use_pn[:, None], 0.0, g * parts["an"][1])
    g_pn = np.where(use_pn[:, None], g * parts["pn"][1], 0.0)
    # L = m + d(a - p) - d(a - n) [or - d(p - n)]: each difference z = u - v gives +dz to u, -dz to v
    return g_ap - g_an, -g_ap - g_pn, g_an + g_pn
