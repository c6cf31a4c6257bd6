"""A worked answer to exercise "binary_cross_entropy" of notebook 07: `rosetta check binary_cross_entropy notebooks/solutions/binary_cross_entropy.py` passes every check."""
import numpy as np

from numpy_impl.losses import binary_cross_entropy_backward


def binary_cross_entropy(y, t, *, from_logits=False, reduction="mean", log_guard=1e-7):
    if from_logits:
        per_element = np.logaddexp(0, y) - y * t
    else:
        per_element = -(t * np.log(y + log_guard) + (1 - t) * np.log(1 - y + log_guard))
    return {"mean": per_element.mean(), "sum": per_element.sum(), "none": per_element}[reduction]
