"""Loss functions in PyTorch from elementary ops, mirroring numpy_impl.losses."""
import torch

from shared.concepts import binary_cross_entropy as bce_spec
from shared.concepts import cross_entropy as ce_spec
from shared.concepts import mean_squared_error as mse_spec
from shared.concepts import softmax_with_loss as swl_spec
from shared.concepts.cross_entropy import BOOK_LOG_GUARD
from torch_impl.activations import log_softmax


def one_hot(labels, num_classes, axis, dtype):
    return torch.movedim(torch.nn.functional.one_hot(labels, num_classes).to(dtype), -1, axis)


def _reduce(per_example, reduction):
    if reduction == "mean":
        return per_example.mean()
    if reduction == "sum":
        return per_example.sum()
    return per_example


def cross_entropy(y, t, *, from_logits=False, axis=-1, reduction="mean", log_guard=BOOK_LOG_GUARD,
                  label_smoothing=0.0):
    axis, kind = ce_spec.validate(y, t, from_logits=from_logits, axis=axis, reduction=reduction, log_guard=log_guard,
                                  label_smoothing=label_smoothing)
    t = one_hot(t, y.shape[axis], axis, y.dtype) if kind == "labels" else t.to(y.dtype)
    if label_smoothing:  # mass to the uniform distribution over the K classes
        t = (1 - label_smoothing) * t + label_smoothing / y.shape[axis]
    log_p = log_softmax(y, axis=axis) if from_logits else torch.log(y + log_guard)
    return _reduce(-(t * log_p).sum(dim=axis), reduction)


def binary_cross_entropy(y, t, *, from_logits=False, reduction="mean", log_guard=BOOK_LOG_GUARD):
    bce_spec.validate(y, t, from_logits=from_logits, reduction=reduction, log_guard=log_guard)
    t = t.to(y.dtype)
    if from_logits:
        # m + log(e^-m + e^(x-m)), m = max(x, 0) detached: autograd then gives exactly
        # sigmoid(x) - t, also at x = 0 (relu(x) + log1p(exp(-|x|)) would give -t there)
        m = y.clamp(min=0).detach()
        per_element = m + torch.log(torch.exp(-m) + torch.exp(y - m)) - y * t
    else:
        per_element = -(t * torch.log(y + log_guard) + (1 - t) * torch.log(1 - y + log_guard))
    return _reduce(per_element, reduction)


def mean_squared_error(y, t):
    mse_spec.validate(y, t)
    return 0.5 * ((y - t) ** 2).sum()


def softmax_with_loss(x, t):
    swl_spec.validate(x, t)
    return cross_entropy(x, t, from_logits=True)
