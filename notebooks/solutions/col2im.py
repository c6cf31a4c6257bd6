"""A worked answer to exercise "col2im" of notebook 04: `rosetta check col2im notebooks/solutions/col2im.py` passes every check."""
import numpy as np

from numpy_impl.conv import col2im_backward
from shared.concepts import _conv  # the spec's geometry: pads (top, bottom, left, right), stride, dilation, out


def col2im(col, x_shape, kernel, *, stride=1, padding=0, dilation=1, channels_last=False):
    g = _conv.validate_col2im("col2im", col, x_shape, kernel, stride=stride, padding=padding, dilation=dilation)
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = g.kernel, g.stride, g.dilation, g.out
    top, bottom, left, right = g.pads
    if channels_last:
        taps = col.reshape(n, oh, ow, kh, kw, c).transpose(0, 5, 3, 4, 1, 2)
    else:
        taps = col.reshape(n, oh, ow, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((n, c, h + top + bottom, w + left + right), dtype=col.dtype)
    for p in range(kh):
        for q in range(kw):
            rows = slice(p * dh, p * dh + sh * (oh - 1) + 1, sh)
            cols = slice(q * dw, q * dw + sw * (ow - 1) + 1, sw)
            img[:, :, rows, cols] += taps[:, :, p, q]
    return img[:, :, top:top + h, left:left + w]
