"""In-batch triplet mining トリプレットマイニング (距離学習) with a hand-written backward.

Every strategy is the same three steps: all pairwise distances D, a selection of
(anchor, positive, negative) index triplets read off D and the labels, and the mean of
the hinge over the selected triplets. The selection is integer-valued, so the gradient
treats it as fixed and flows only through the chosen entries of D: the backward builds
dL/dD (one +w at (a, p), one -w at (a, n) per triplet) and pulls it back through D.
The contract (ties, empty batches, the semi-hard fallback) is in shared/concepts/_mining.py.
"""
import numpy as np

from numpy_impl import numerics
from shared.concepts import _mining as spec


def scaled_distances(x, distance):
    """(D / c, s): every pairwise distance divided by c = s^2 (squared) or s (euclidean),
    s a power of two >= max |x|. Direct differences, not |x_i|^2 + |x_j|^2 - 2 x_i.x_j: no
    cancellation, and the diagonal (and any duplicated row) is exactly 0 in every dtype.
    Dividing by a power of two changes no digit, and in these units 1e30-sized float32
    embeddings neither overflow when squared nor tie at inf when mined (numerics.py)."""
    s = numerics.scale_of(x).reshape(())
    u = x / s
    diff = u[:, None, :] - u[None, :, :]
    q = np.sum(diff * diff, axis=-1)
    return (q if distance == "squared" else np.sqrt(q)), s


def pairwise_distances(x, distance):
    return spec.times_c(*scaled_distances(x, distance), distance)


def _masks(labels):
    same = labels[:, None] == labels[None, :]
    positive = same & ~np.eye(len(labels), dtype=bool)
    return positive, ~same


def _lowest_argmin(values, mask):
    """Per row, the first column of the smallest value inside `mask` (np.argmin returns
    the first occurrence): lowest index on ties."""
    return np.where(mask, values, np.inf).argmin(axis=1)


def _lowest_argmax(values, mask):
    return np.where(mask, values, -np.inf).argmax(axis=1)


def mine(D, labels, strategy, margin, average):
    """The triplets [K, 3], int64, in lexicographic order."""
    positive, negative = _masks(labels)
    has_negative = negative.any(axis=1)
    if strategy == "batch_all":
        valid = positive[:, :, None] & negative[:, None, :]
        if average == "positive":
            valid &= margin + D[:, :, None] - D[:, None, :] > 0
        return np.argwhere(valid).astype(np.int64)
    if strategy == "batch_hard":
        anchors = np.flatnonzero(positive.any(axis=1) & has_negative)
        hardest_p = _lowest_argmax(D, positive)[anchors]
        hardest_n = _lowest_argmin(D, negative)[anchors]
        return np.stack([anchors, hardest_p, hardest_n], axis=1).astype(np.int64)
    pairs = np.argwhere(positive & has_negative[:, None])  # (a, p), lexicographic
    a, p = pairs[:, 0], pairs[:, 1]
    d_an, neg = D[a], negative[a]  # [K, B]: each pair's row of candidate negatives
    farther = neg & (d_an > D[a, p][:, None])
    semi_hard = _lowest_argmin(d_an, farther)
    hardest_beyond_reach = _lowest_argmax(d_an, neg)  # TF Addons' fallback: the farthest negative
    n = np.where(farther.any(axis=1), semi_hard, hardest_beyond_reach)
    return np.stack([a, p, n], axis=1).astype(np.int64)


def _terms(D, s, distance, triplets, margin, soft):
    """Each triplet's loss term and its derivative w.r.t. d(a, p) (minus that w.r.t. d(a, n)),
    from D in the scaled units of scaled_distances."""
    a, p, n = triplets.T
    if soft:
        z = spec.times_c(D[a, p] - D[a, n], s, distance)
        return np.logaddexp(0, z), 1 / (1 + np.exp(-z))
    h = spec.times_c(spec.over_c(margin, s, distance) + D[a, p] - D[a, n], s, distance)
    return np.maximum(h, 0), (h > 0).astype(D.dtype)


def _mean(terms):
    # no triplet: the loss is 0, not mean([]) = NaN
    return terms.sum() / max(len(terms), 1)


def _mined(x, labels, strategy, margin, distance, average, soft):
    """The scaled distances, the triplets mined in those units, and their terms."""
    D, s = scaled_distances(x, distance)
    triplets = mine(D, labels, strategy, spec.over_c(margin, s, distance), average)
    return D, s, triplets, _terms(D, s, distance, triplets, margin, soft)


def _loss_and_triplets(embeddings, labels, *, strategy, margin, distance, average, soft):
    _, _, triplets, (terms, _) = _mined(embeddings, labels, strategy, margin, distance, average, soft)
    return np.asarray(_mean(terms), dtype=embeddings.dtype), triplets


def _backward(dy, embeddings, labels, *, strategy, margin, distance, average, soft):
    x = embeddings
    D, s, triplets, (_, slope) = _mined(x, labels, strategy, margin, distance, average, soft)
    w = dy * slope / max(len(triplets), 1)
    dD = np.zeros_like(D)
    a, p, n = triplets.T
    np.add.at(dD, (a, p), w)  # add.at: the same (a, p) may be chosen by many triplets
    np.add.at(dD, (a, n), -w)
    if distance == "euclidean":
        # d = sqrt(q): dd/dq = 1 / (2 d), and 0 where d = 0 (a coinciding pair), the
        # subgradient of |x_i - x_j| that central differences also measure
        D = s * D
        dD = np.where(D > 0, dD / (2 * np.where(D > 0, D, 1)), 0)
    # q_ij = |x_i - x_j|^2 moves with x_i through row i and column i
    sym = dD + dD.T
    return 2 * (sym.sum(axis=1)[:, None] * x - sym @ x)


def triplet_mining(embeddings, labels, *, strategy="batch_all", margin=1.0, distance="squared",
                   average="positive", soft=False):
    """(loss, triplets [K, 3]) for one strategy: the mined triplets are returned so that
    the mining itself is compared, not only the loss."""
    spec.validate("triplet_mining", embeddings, labels, margin=margin, distance=distance,
                  strategy=strategy, average=average, soft=soft)
    return _loss_and_triplets(embeddings, labels, strategy=strategy, margin=margin, distance=distance,
                              average=average, soft=soft)


def triplet_batch_all(embeddings, labels, *, margin=1.0, distance="squared", average="positive"):
    spec.validate("triplet_batch_all", embeddings, labels, margin=margin, distance=distance, average=average)
    return _loss_and_triplets(embeddings, labels, strategy="batch_all", margin=margin, distance=distance,
                              average=average, soft=False)[0]


def triplet_batch_all_backward(dy, embeddings, labels, *, margin=1.0, distance="squared", average="positive"):
    spec.validate("triplet_batch_all", embeddings, labels, margin=margin, distance=distance, average=average)
    return _backward(dy, embeddings, labels, strategy="batch_all", margin=margin, distance=distance,
                     average=average, soft=False)


def triplet_batch_hard(embeddings, labels, *, margin=1.0, distance="squared", soft=False):
    spec.validate("triplet_batch_hard", embeddings, labels, margin=margin, distance=distance,
                  strategy="batch_hard", soft=soft)
    return _loss_and_triplets(embeddings, labels, strategy="batch_hard", margin=margin, distance=distance,
                              average="all", soft=soft)[0]


def triplet_batch_hard_backward(dy, embeddings, labels, *, margin=1.0, distance="squared", soft=False):
    spec.validate("triplet_batch_hard", embeddings, labels, margin=margin, distance=distance,
                  strategy="batch_hard", soft=soft)
    return _backward(dy, embeddings, labels, strategy="batch_hard", margin=margin, distance=distance,
                     average="all", soft=soft)


def triplet_semi_hard(embeddings, labels, *, margin=1.0, distance="squared"):
    spec.validate("triplet_semi_hard", embeddings, labels, margin=margin, distance=distance)
    return _loss_and_triplets(embeddings, labels, strategy="semi_hard", margin=margin, distance=distance,
                              average="all", soft=False)[0]


def triplet_semi_hard_backward(dy, embeddings, labels, *, margin=1.0, distance="squared"):
    spec.validate("triplet_semi_hard", embeddings, labels, margin=margin, distance=distance)
    return _backward(dy, embeddings, labels, strategy="semi_hard", margin=margin, distance=distance,
                     average="all", soft=False)
