"""DCGAN's generator and discriminator for the digits in PyTorch, from torch.nn.functional
(the architecture and the canonical parameter layouts are in shared/concepts/_gan.py);
autograd gives the backward. An nn.Sequential of the same layers is the oracle."""
import torch
import torch.nn.functional as F

from shared.concepts import _gan as spec

_UP = {"stride": spec.STRIDE, "padding": spec.PAD}


def generator(z, W_fc, b_fc, W_t1, gamma1, beta1, W_t2, b_t2, *, bn_eps=spec.BN_EPS):
    spec.validate_generator(z, W_fc, b_fc, W_t1, gamma1, beta1, W_t2, b_t2, bn_eps=bn_eps)
    h0 = (z @ W_fc + b_fc).unflatten(1, (W_t1.shape[0], spec.BASE, spec.BASE))  # columns are (C, H, W)
    t1 = F.conv_transpose2d(h0, W_t1, **_UP)  # F takes ConvTranspose2d's IOHW weight, the canonical layout
    # no running statistics: training=True normalises with the batch's and reads none
    bn = F.batch_norm(t1, None, None, gamma1, beta1, training=True, eps=bn_eps)
    return torch.tanh(F.conv_transpose2d(F.relu(bn), W_t2, b_t2, **_UP))


def discriminator(x, W_c1, b_c1, W_c2, b_c2, W_fc, b_fc, *, negative_slope=spec.NEGATIVE_SLOPE):
    spec.validate_discriminator(x, W_c1, b_c1, W_c2, b_c2, W_fc, b_fc, negative_slope=negative_slope)
    h = F.leaky_relu(F.conv2d(x, W_c1, b_c1, **_UP), negative_slope)
    h = F.leaky_relu(F.conv2d(h, W_c2, b_c2, **_UP), negative_slope)
    # flatten(1) of NCHW is W_fc's canonical (C, H, W) row order: nothing to reorder
    return (h.flatten(1) @ W_fc + b_fc)[:, 0]
