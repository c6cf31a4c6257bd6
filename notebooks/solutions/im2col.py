"""A worked answer to exercise "im2col" of notebook 04: `rosetta check im2col notebooks/solutions/im2col.py` passes every check."""
import numpy as np

from numpy_impl.conv import im2col_backward
from shared.concepts import _conv  # the spec's geometry: pads (top, bottom, left, right), stride, dilation, out


def im2col(x, kernel, *, stride=1, padding=0, dilation=1, pad_value=0.0, channels_last=False):
    g = _conv.validate_im2col("im2col", x, kernel, stride=stride, padding=padding, dilation=dilation)
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = g.kernel, g.stride, g.dilation, g.out
    top, bottom, left, right = g.pads
    img = np.pad(x, [(0, 0), (0, 0), (top, bottom), (left, right)], constant_values=pad_value)
    col = np.zeros((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for p in range(kh):
        for q in range(kw):
            rows = slice(p * dh, p * dh + sh * (oh - 1) + 1, sh)
            cols = slice(q * dw, q * dw + sw * (ow - 1) + 1, sw)
            col[:, :, p, q] = img[:, :, rows, cols]
    order = (0, 4, 5, 2, 3, 1) if channels_last else (0, 4, 5, 1, 2, 3)
    return col.transpose(order).reshape(n * oh * ow, -1)
