"""A worked answer to exercise "clip_by_global_norm" of notebook 05: `rosetta check clip_by_global_norm notebooks/solutions/clip_by_global_norm.py` passes every check."""
import numpy as np


def clip_by_global_norm(grads, *, max_norm, eps=0.0):
    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads.values()))
    scale = max_norm / max(norm + eps, max_norm)
    return {name: g * scale for name, g in grads.items()}, np.asarray(norm)
