"""In-batch triplet mining in PyTorch, mirroring numpy_impl.mining; autograd gives the
backward. The triplets are mined from detached distances (indices carry no gradient),
then the loss gathers the chosen entries of the differentiable distance matrix."""
import torch

from shared.concepts import _mining as spec
from torch_impl import numerics


def scaled_distances(x, distance):
    """(D / c, s), c = s^2 (squared) or s (euclidean), s a power of two >= max |x|: direct
    differences of x / s, so duplicated rows give exactly 0 and 1e30-sized float32
    embeddings neither overflow nor tie at inf (see numpy_impl.mining)."""
    s = numerics.scale_of(x).reshape(())
    u = x / s
    diff = u[:, None, :] - u[None, :, :]
    q = (diff * diff).sum(dim=-1)
    if distance == "squared":
        return q, s
    # sqrt's derivative is inf at 0 and inf * 0 = NaN in the chain rule: take the root of
    # a harmless 1 there and mask it, so the gradient at d = 0 is 0
    nonzero = q > 0
    return torch.where(nonzero, torch.sqrt(torch.where(nonzero, q, torch.ones_like(q))), torch.zeros_like(q)), s


def pairwise_distances(x, distance):
    return spec.times_c(*scaled_distances(x, distance), distance)


def _lowest_argmin(values, mask):
    """Per row, the lowest column holding the smallest value inside `mask`, spelled out
    rather than trusting argmin's choice among equal values."""
    masked = torch.where(mask, values, torch.full_like(values, float("inf")))
    best = masked.min(dim=1, keepdim=True).values
    columns = torch.arange(values.shape[1], device=values.device).expand_as(values)
    return torch.where(mask & (masked == best), columns, values.shape[1]).min(dim=1).values


def _lowest_argmax(values, mask):
    return _lowest_argmin(-values, mask)


def mine(D, labels, strategy, margin, average):
    B = labels.shape[0]
    same = labels[:, None] == labels[None, :]
    positive = same & ~torch.eye(B, dtype=torch.bool, device=labels.device)
    negative = ~same
    has_negative = negative.any(dim=1)
    if strategy == "batch_all":
        valid = positive[:, :, None] & negative[:, None, :]
        if average == "positive":
            valid = valid & (margin + D[:, :, None] - D[:, None, :] > 0)
        return torch.nonzero(valid)  # row-major: lexicographic (a, p, n)
    if strategy == "batch_hard":
        anchors = torch.nonzero(positive.any(dim=1) & has_negative)[:, 0]
        return torch.stack([anchors, _lowest_argmax(D, positive)[anchors],
                            _lowest_argmin(D, negative)[anchors]], dim=1)
    pairs = torch.nonzero(positive & has_negative[:, None])
    a, p = pairs[:, 0], pairs[:, 1]
    d_an, neg = D[a], negative[a]
    farther = neg & (d_an > D[a, p][:, None])
    n = torch.where(farther.any(dim=1), _lowest_argmin(d_an, farther), _lowest_argmax(d_an, neg))
    return torch.stack([a, p, n], dim=1)


def _loss_and_triplets(embeddings, labels, *, strategy, margin, distance, average, soft):
    D, s = scaled_distances(embeddings, distance)  # mined and hinged in these units
    triplets = mine(D.detach(), labels, strategy, spec.over_c(margin, s, distance), average).to(torch.int64)
    a, p, n = triplets.unbind(dim=1)
    if soft:
        # logaddexp, not F.softplus: F.softplus turns linear above its threshold 20
        z = spec.times_c(D[a, p] - D[a, n], s, distance)
        terms = torch.logaddexp(torch.zeros_like(z), z)
    else:
        terms = torch.relu(spec.times_c(spec.over_c(margin, s, distance) + D[a, p] - D[a, n], s, distance))
    # no triplet: 0, not mean([]) = NaN; the sum keeps the graph, so the gradient is 0
    return terms.sum() / max(triplets.shape[0], 1), triplets


def triplet_mining(embeddings, labels, *, strategy="batch_all", margin=1.0, distance="squared",
                   average="positive", soft=False):
    spec.validate("triplet_mining", embeddings, labels, margin=margin, distance=distance,
                  strategy=strategy, average=average, soft=soft)
    return _loss_and_triplets(embeddings, labels, strategy=strategy, margin=margin, distance=distance,
                              average=average, soft=soft)


def triplet_batch_all(embeddings, labels, *, margin=1.0, distance="squared", average="positive"):
    spec.validate("triplet_batch_all", embeddings, labels, margin=margin, distance=distance, average=average)
    return _loss_and_triplets(embeddings, labels, strategy="batch_all", margin=margin, distance=distance,
                              average=average, soft=False)[0]


def triplet_batch_hard(embeddings, labels, *, margin=1.0, distance="squared", soft=False):
    spec.validate("triplet_batch_hard", embeddings, labels, margin=margin, distance=distance,
                  strategy="batch_hard", soft=soft)
    return _loss_and_triplets(embeddings, labels, strategy="batch_hard", margin=margin, distance=distance,
                              average="all", soft=soft)[0]


def triplet_semi_hard(embeddings, labels, *, margin=1.0, distance="squared"):
    spec.validate("triplet_semi_hard", embeddings, labels, margin=margin, distance=distance)
    return _loss_and_triplets(embeddings, labels, strategy="semi_hard", margin=margin, distance=distance,
                              average="all", soft=False)[0]
