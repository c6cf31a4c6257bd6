"""col2im: a column matrix back to an image, adding up the overlaps (ゼロから作る 7.4.3).

It is im2col's adjoint (<im2col(x), c> = <x, col2im(c)>), which is why it is im2col's
backward and im2col is its backward. It is NOT im2col's inverse: where windows overlap
(stride < kernel) a pixel receives the sum of every copy of it.
"""
import numpy as np

from shared import lazy
from shared.concepts import _conv
from shared.spec import Case, Concept, ErrorCase, Hint, Oracle


def _make(x_shape, kernel, **geometry):
    g = _conv._geometry("col2im", x_shape[2:], _conv.pair("col2im", "kernel", kernel),
                        geometry.get("stride", 1), geometry.get("padding", 0), geometry.get("dilation", 1))

    def make(rng):
        rows = x_shape[0] * g.out[0] * g.out[1]
        return {"col": rng.standard_normal((rows, x_shape[1] * g.kernel[0] * g.kernel[1]))}
    return {"x_shape": x_shape, "kernel": kernel, **geometry}, make


def _case(name, x_shape, kernel, seed, golden=None, note="", **geometry):
    kwargs, make = _make(x_shape, kernel, **geometry)
    return Case(name, make, kwargs, seed=seed, golden=golden, note=note)


def _ones_golden(inputs):
    # a column matrix of ones: each pixel of a 4x4 image gets the number of 3x3 windows
    # (stride 1) that cover it, 1 in the corners up to 4 in the middle
    cover = np.array([1, 2, 2, 1], dtype=float)
    return np.outer(cover, cover).reshape(1, 1, 4, 4)


def _torch_fold(col, x_shape, kernel, *, stride=1, padding=0, dilation=1, channels_last=False):
    F = lazy.F()
    g = _conv.validate_col2im("col2im", col, x_shape, kernel, stride=stride, padding=padding, dilation=dilation)
    n, _, h, w = x_shape
    top, bottom, left, right = g.pads
    cols = col.reshape(n, -1, col.shape[1]).transpose(1, 2)  # (N, C*kh*kw, L), F.fold's layout
    image = F.fold(cols, (h + top + bottom, w + left + right), g.kernel, dilation=g.dilation, stride=g.stride)
    return image[:, :, top:top + h, left:left + w]


def _channel_major(case):
    return not case.kwargs.get("channels_last", False)


CONCEPT = Concept(
    name="col2im",
    module="conv",
    family="convolution",
    lesson=2,
    hints=(Hint("forward", "where windows overlap, add their values (+=): writing them (=) keeps only the last"),),
    math="x[n, c, i*S + p*D - P, j*S + q*D - P] += col[n*OH*OW + i*OW + j, (c, p, q)]  for every window (i, j) "
         "and tap (p, q);  padding is cut off;  the backward is im2col",
    japanese="col2im（行列から画像への復元、重なりは加算）",
    signature="col2im(col, x_shape, kernel, *, stride=1, padding=0, dilation=1, channels_last=False) -> x_shape",
    differentiable=("col",),
    cases=(
        Case("ones-4x4", lambda rng: {"col": np.ones((4, 9))}, {"x_shape": (1, 1, 4, 4), "kernel": 3}, seed=411,
             golden=_ones_golden, note="each pixel counts the windows that cover it"),
        _case("pad1-overlap", (2, 3, 5, 5), 3, 412, padding=1),
        _case("stride2", (2, 2, 7, 6), (3, 2), 413, stride=2, padding=(1, 0)),
        _case("same-stride2-asymmetric", (1, 2, 8, 8), 3, 414, stride=2, padding="same"),
        _case("dilation2", (1, 2, 7, 7), 3, 415, dilation=2, padding=(0, 1, 2, 0)),
        _case("stride-larger-than-kernel", (1, 2, 7, 7), 2, 416, stride=3,
              note="pixels no window reads get 0"),
    ),
    error_cases=(
        ErrorCase("col-shape", lambda: {"col": np.ones((4, 8))}, ValueError,
                  r"col2im: col must have shape \(4, 9\) \(\(N\*OH\*OW, C\*kh\*kw\) for x_shape \(1, 1, 4, 4\)",
                  {"x_shape": (1, 1, 4, 4), "kernel": 3}),
        ErrorCase("x-shape", lambda: {"col": np.ones((4, 9))}, ValueError,
                  r"col2im: x_shape must be the image shape \(N, C, H, W\), got \(4, 4\)",
                  {"x_shape": (4, 4), "kernel": 3}),
    ),
    oracles=(Oracle("torch", "F.fold", _torch_fold, applies=_channel_major),),
)
