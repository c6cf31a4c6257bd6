"""Weight decay penalties in PyTorch (torch has no regulariser objects: optimizers take
weight_decay instead, see the adam_step porting cases)."""
import torch

from shared.concepts import l1_penalty as l1_spec
from shared.concepts import l2_penalty as l2_spec


def l2_penalty(W, *, lam):
    l2_spec.validate(W, lam=lam)
    return 0.5 * lam * torch.sum(W ** 2)


def l1_penalty(W, *, lam):
    l1_spec.validate(W, lam=lam)
    return lam * torch.sum(torch.abs(W))
