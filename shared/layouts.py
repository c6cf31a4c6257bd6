"""Canonical layouts and the only conversions between them and the frameworks' own.

Canonical (the math as the book and PyTorch write it):
  images               NCHW   [batch, channels, height, width]
  conv kernels         OIHW   [out channels, in channels / groups, kh, kw]
  transposed-conv      IOHW   [in channels, out channels, kh, kw]  (torch ConvTranspose2d)
  depthwise kernels    OIHW with groups = C: [C * M, 1, kh, kw], output channel c * M + m
  affine               W [in, out]  (the book and Keras; torch Linear.weight is W.T)

TensorFlow and Keras keep images NHWC and kernels HWIO; Conv2DTranspose kernels
[kh, kw, out, in]; DepthwiseConv2D kernels [kh, kw, C, M]. Both frameworks compute
cross-correlation: no kernel is ever flipped.

Every function takes a NumPy array, a torch tensor or a TF tensor and returns the same
kind, so a porter calls the same converter whichever side the weights come from.
"""
from __future__ import annotations

import numpy as np

NCHW_TO_NHWC = (0, 2, 3, 1)
NHWC_TO_NCHW = (0, 3, 1, 2)
# OIHW -> HWIO and IOHW -> [kh, kw, O, I] are the same permutation: (2, 3, 1, 0)
OIHW_TO_HWIO = (2, 3, 1, 0)
HWIO_TO_OIHW = (3, 2, 0, 1)


def _transpose(a, perm):
    if isinstance(a, np.ndarray):
        return a.transpose(perm)
    if hasattr(a, "permute"):  # torch
        return a.permute(perm)
    from shared import lazy  # a TF tensor: TensorFlow is already loaded
    return lazy.tf().transpose(a, perm)


def _reshape(a, shape):
    if isinstance(a, np.ndarray) or hasattr(a, "permute"):
        return a.reshape(shape)
    from shared import lazy
    return lazy.tf().reshape(a, shape)


def nchw_to_nhwc(x):
    return _transpose(x, NCHW_TO_NHWC)


def nhwc_to_nchw(x):
    return _transpose(x, NHWC_TO_NCHW)


def oihw_to_hwio(w):
    """A conv kernel for tf.nn.conv2d / keras Conv2D (groups: I is in channels / groups)."""
    return _transpose(w, OIHW_TO_HWIO)


def hwio_to_oihw(w):
    return _transpose(w, HWIO_TO_OIHW)


def iohw_to_keras_transpose(w):
    """A torch ConvTranspose2d weight [I, O, kh, kw] as the kernel of tf.nn.conv2d_transpose
    and keras Conv2DTranspose, [kh, kw, O, I]."""
    return _transpose(w, OIHW_TO_HWIO)


def keras_transpose_to_iohw(w):
    return _transpose(w, HWIO_TO_OIHW)


def depthwise_oihw_to_hwcm(w, channels: int):
    """A depthwise kernel [C * M, 1, kh, kw] (output channel c * M + m) as TF's
    depthwise_conv2d / keras DepthwiseConv2D kernel [kh, kw, C, M]."""
    out, one, kh, kw = (int(d) for d in w.shape)
    if one != 1 or out % channels:
        raise ValueError(f"a depthwise kernel for {channels} channels has shape [C*M, 1, kh, kw], "
                         f"got {tuple(int(d) for d in w.shape)}")
    return _transpose(_reshape(w, (channels, out // channels, kh, kw)), (2, 3, 0, 1))


def hwcm_to_depthwise_oihw(w):
    kh, kw, channels, multiplier = (int(d) for d in w.shape)
    return _reshape(_transpose(w, (2, 3, 0, 1)), (channels * multiplier, 1, kh, kw))


def dense_rows_chw_to_hwc(W, channels: int, height: int, width: int):
    """The affine W [C*H*W, out] of a net that flattens NCHW feature maps (torch's
    flatten(1), the book's reshape), reordered for one that flattens NHWC (Keras Flatten):
    row (c, h, w) moves to row (h, w, c)."""
    out = int(W.shape[1])
    return _reshape(_transpose(_reshape(W, (channels, height, width, out)), (1, 2, 0, 3)), (-1, out))


def dense_rows_hwc_to_chw(W, channels: int, height: int, width: int):
    out = int(W.shape[1])
    return _reshape(_transpose(_reshape(W, (height, width, channels, out)), (2, 0, 1, 3)), (-1, out))
