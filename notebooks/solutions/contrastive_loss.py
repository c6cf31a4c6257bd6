"""A worked answer to exercise "contrastive_loss" of notebook 06: `rosetta check contrastive_loss notebooks/solutions/contrastive_loss.py` passes every check."""
import numpy as np

from numpy_impl.metric import contrastive_loss_backward


def _distance(x1, x2, distance):
    if distance == "cosine":
        norms = np.maximum(np.linalg.norm(x1, axis=-1), 1e-8) * np.maximum(np.linalg.norm(x2, axis=-1), 1e-8)
        return 1 - np.sum(x1 * x2, axis=-1) / norms
    return np.linalg.norm(x1 - x2, axis=-1)


def contrastive_loss(x1, x2, y, *, margin=1.0, distance="euclidean", reduction="mean"):
    d = _distance(x1, x2, distance)
    loss = 0.5 * (y * d ** 2 + (1 - y) * np.maximum(margin - d, 0) ** 2)
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]
