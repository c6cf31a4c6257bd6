"""Weight decay 荷重減衰: penalties on the size of the weights, added to the loss."""
import numpy as np

from shared.concepts import l1_penalty as l1_spec
from shared.concepts import l2_penalty as l2_spec


def l2_penalty(W, *, lam):
    l2_spec.validate(W, lam=lam)
    return 0.5 * lam * np.sum(W ** 2)  # the 0.5 makes the gradient lam * W


def l2_penalty_backward(dy, W, *, lam):
    return dy * lam * W


def l1_penalty(W, *, lam):
    l1_spec.validate(W, lam=lam)
    return lam * np.sum(np.abs(W))


def l1_penalty_backward(dy, W, *, lam):
    return dy * lam * np.sign(W)  # sign(0) = 0: the subgradient torch and TF also pick
