"""Geometry shared by the convolution and pooling concepts: padding rules, output
sizes, FLOP counts, and the checks every backend runs before computing anything.

Output size (ゼロから作る 7.2.4): OH = (H + 2P - FH) / S + 1, here with the padding split
into top and bottom and the kernel's effective size d (k - 1) + 1 under dilation d:
OH = floor((H + top + bottom - d (kh - 1) - 1) / S) + 1.
"""
from __future__ import annotations

import math
import numbers
from typing import NamedTuple

from shared import checks

PADDING_FORMS = "an int, a pair (ph, pw), (top, bottom, left, right), 'valid' or 'same'"


class Geometry(NamedTuple):
    """Everything an implementation needs besides the arrays."""

    pads: tuple[int, int, int, int]  # top, bottom, left, right
    stride: tuple[int, int]
    dilation: tuple[int, int]
    kernel: tuple[int, int]
    out: tuple[int, int]              # output height, width


def pair(concept: str, arg: str, value, *, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints, each >= minimum, as a pair."""
    values = (value, value) if isinstance(value, numbers.Integral) else value
    if (not isinstance(values, (tuple, list)) or len(values) != 2
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= minimum
                       for v in values)):
        raise ValueError(f"{concept}: {arg} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(values[0]), int(values[1])


def effective(kernel: int, dilation: int) -> int:
    """The span a dilated kernel covers: d (k - 1) + 1."""
    return dilation * (kernel - 1) + 1


def output_size(size: int, kernel: int, stride: int, lo: int, hi: int, dilation: int = 1) -> int:
    return (size + lo + hi - effective(kernel, dilation)) // stride + 1


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's 'SAME': the output has ceil(size / stride) positions and the padding
    they need is split with the smaller half first (top/left), the extra one last. With
    stride > 1 it depends on the input size: an odd total is asymmetric, and for
    k=3, s=2 it is (0, 1) on even sizes, not torch's symmetric padding=1
    (tensorflow nn_ops.py "Notes on padding")."""
    out = -(-size // stride)
    total = max((out - 1) * stride + effective(kernel, dilation) - size, 0)
    return total // 2, total - total // 2


def resolve_padding(concept: str, padding, size: tuple[int, int], kernel: tuple[int, int],
                    stride: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from any of the accepted padding forms."""
    if isinstance(padding, str):
        checks.require_choice(concept, "padding", padding, ("valid", "same"))
        if padding == "valid":
            return 0, 0, 0, 0
        return (*same_padding(size[0], kernel[0], stride[0], dilation[0]),
                *same_padding(size[1], kernel[1], stride[1], dilation[1]))
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        if all(isinstance(p, numbers.Integral) and not isinstance(p, bool) and p >= 0 for p in padding):
            return tuple(int(p) for p in padding)
        raise ValueError(f"{concept}: padding (top, bottom, left, right) must be ints >= 0, got {padding!r}")
    try:
        ph, pw = pair(concept, "padding", padding, minimum=0)
    except ValueError:
        raise ValueError(f"{concept}: padding must be {PADDING_FORMS}, got {padding!r}") from None
    return ph, ph, pw, pw


def _geometry(concept, size, kernel, stride, padding, dilation):
    stride = pair(concept, "stride", stride)
    dilation = pair(concept, "dilation", dilation)
    pads = resolve_padding(concept, padding, size, kernel, stride, dilation)
    out = (output_size(size[0], kernel[0], stride[0], pads[0], pads[1], dilation[0]),
           output_size(size[1], kernel[1], stride[1], pads[2], pads[3], dilation[1]))
    if min(out) < 1:
        raise ValueError(f"{concept}: the kernel {kernel} (dilation {dilation}) does not fit the input "
                         f"{size} padded by {pads}: the output would be {out}")
    return Geometry(pads, stride, dilation, kernel, out)


def _require_image(concept, arg, x):
    checks.require_float(concept, arg, x)
    checks.require_rank(concept, arg, x, (4,), " ([N, C, H, W], the canonical NCHW layout)")
    checks.require_nonempty(concept, arg, x)


def validate_conv2d(concept, x, w, b, *, stride, padding, dilation, groups) -> Geometry:
    _require_image(concept, "x", x)
    checks.require_floats(concept, optional=("b",), x=x, w=w, b=b)
    checks.require_rank(concept, "w", w, (4,), " ([out, in / groups, kh, kw], the canonical OIHW layout)")
    checks.require_nonempty(concept, "w", w, "a convolution needs at least one filter of at least one weight")
    _, c, h, width = checks.shape_of(x)
    o, per_group, kh, kw = checks.shape_of(w)
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{concept}: groups must be an int >= 1, got {groups!r}")
    if c % groups or o % groups:
        raise ValueError(f"{concept}: groups={groups} must divide both the {c} input and the "
                         f"{o} output channels")
    if per_group != c // groups:
        raise ValueError(f"{concept}: w has {per_group} input channels per filter; x has {c} channels "
                         f"in {groups} group(s), so w must be [{o}, {c // groups}, kh, kw] (OIHW), "
                         f"got {checks.shape_of(w)}")
    if b is not None:
        checks.require_shape(concept, "b", b, (o,), "one bias per output channel")
    return _geometry(concept, (h, width), (kh, kw), stride, padding, dilation)


def validate_im2col(concept, x, kernel, *, stride, padding, dilation) -> Geometry:
    _require_image(concept, "x", x)
    kernel = pair(concept, "kernel", kernel)
    return _geometry(concept, checks.shape_of(x)[2:], kernel, stride, padding, dilation)


def validate_col2im(concept, col, x_shape, kernel, *, stride, padding, dilation) -> Geometry:
    checks.require_float(concept, "col", col)
    checks.require_nonempty(concept, "col", col)
    if (not isinstance(x_shape, (tuple, list)) or len(x_shape) != 4
            or not all(isinstance(d, numbers.Integral) and d >= 1 for d in x_shape)):
        raise ValueError(f"{concept}: x_shape must be the image shape (N, C, H, W), got {x_shape!r}")
    kernel = pair(concept, "kernel", kernel)
    geometry = _geometry(concept, tuple(x_shape[2:]), kernel, stride, padding, dilation)
    n, c = x_shape[:2]
    rows, cols = n * math.prod(geometry.out), c * math.prod(kernel)
    checks.require_shape(concept, "col", col, (rows, cols),
                         f"(N*OH*OW, C*kh*kw) for x_shape {tuple(x_shape)} and kernel {kernel}")
    return geometry


def validate_pool(concept, x, kernel, *, stride, padding, count_include_pad=True) -> Geometry:
    _require_image(concept, "x", x)
    checks.require_bool(concept, "count_include_pad", count_include_pad)
    kernel = pair(concept, "kernel", kernel)
    geometry = _geometry(concept, checks.shape_of(x)[2:], kernel, kernel if stride is None else stride,
                         padding, 1)
    top, bottom, left, right = geometry.pads
    if max(top, bottom) >= kernel[0] or max(left, right) >= kernel[1]:
        # a window of padding only: max would be -inf, an average over nothing 0/0
        raise ValueError(f"{concept}: padding {geometry.pads} must be smaller than the kernel {kernel} "
                         f"on every side, or some windows would hold padding only")
    return geometry


def transpose_crops(concept, padding, output_padding, size, kernel, stride):
    """(top, bottom, left, right) cut from the full transposed-conv output of size
    (H - 1) S + k. A negative bottom/right extends it with zeros instead.

    - ints, pairs, (top, bottom, left, right): torch's ConvTranspose2d padding, then
      output_padding adds rows at the bottom and columns on the right;
    - 'valid': Keras, output H S + max(k - S, 0);
    - 'same': Keras/TF, output H S: a crop of k - S split with the smaller half first,
      the mirror of conv2d's 'same' (a conv2d's gradient with respect to its input)."""
    op = pair(concept, "output_padding", output_padding, minimum=0)
    if isinstance(padding, str):
        checks.require_choice(concept, "padding", padding, ("valid", "same"))
        if op != (0, 0):
            raise ValueError(f"{concept}: output_padding goes with numeric padding (torch); "
                             f"'{padding}' fixes the output size itself (Keras)")
        crops = []
        for k, s in zip(kernel, stride):
            total = k - s
            if padding == "valid":
                crops += [0, min(total, 0)]
            else:
                crops += [max(total, 0) // 2, total - max(total, 0) // 2]
        return tuple(crops)
    top, bottom, left, right = resolve_padding(concept, padding, size, kernel, stride, (1, 1))
    for extra, s in zip(op, stride):
        if extra >= s:
            raise ValueError(f"{concept}: output_padding {op} must be smaller than the stride {stride}: "
                             "it picks which of the S input sizes that a strided conv maps to the "
                             "same output this layer inverts")
    return top, bottom - op[0], left, right - op[1]


def validate_conv_transpose2d(concept, x, w, b, *, stride, padding, output_padding):
    _require_image(concept, "x", x)
    checks.require_floats(concept, optional=("b",), x=x, w=w, b=b)
    checks.require_rank(concept, "w", w, (4,), " ([in, out, kh, kw], torch's ConvTranspose2d layout)")
    checks.require_nonempty(concept, "w", w, "a transposed convolution needs at least one weight")
    _, c, h, width = checks.shape_of(x)
    i, o, kh, kw = checks.shape_of(w)
    if i != c:
        raise ValueError(f"{concept}: w must be [in, out, kh, kw] with in = {c}, the channels of x, "
                         f"got {checks.shape_of(w)}")
    if b is not None:
        checks.require_shape(concept, "b", b, (o,), "one bias per output channel")
    stride = pair(concept, "stride", stride)
    crops = transpose_crops(concept, padding, output_padding, (h, width), (kh, kw), stride)
    full = ((h - 1) * stride[0] + kh, (width - 1) * stride[1] + kw)
    out = (full[0] - crops[0] - crops[1], full[1] - crops[2] - crops[3])
    if min(out) < 1:
        raise ValueError(f"{concept}: padding {padding!r} crops away the whole output {full}")
    return Geometry(crops, stride, (1, 1), (kh, kw), out)


def transpose_geometry(x, g: Geometry):
    """The conv2d that a transposed conv inverts: it reads the full output ((H-1)S + k,
    extended by zeros where a crop is negative) with stride S and no padding, and has
    exactly H x W windows. Returns (full size, that conv's Geometry)."""
    h, width = checks.shape_of(x)[2:]
    (kh, kw), (sh, sw) = g.kernel, g.stride
    _, bottom, _, right = g.pads
    full = ((h - 1) * sh + kh + max(-bottom, 0), (width - 1) * sw + kw + max(-right, 0))
    return full, Geometry((0, 0, 0, 0), g.stride, (1, 1), g.kernel, (h, width))


def conv2d_flops(x_shape, w_shape, out_hw) -> int:
    """Floating-point operations of a conv2d forward: one multiply and one add per
    kernel tap, 2 N O OH OW (C / groups) kh kw. The backward costs twice that (one
    product for dx, one for dw)."""
    n = x_shape[0]
    o, per_group, kh, kw = w_shape
    return 2 * n * o * math.prod(out_hw) * per_group * kh * kw


def validate_separable(concept, x, w_depth, w_point, b):
    _require_image(concept, "x", x)
    channels = checks.shape_of(x)[1]
    checks.require_floats(concept, optional=("b",), x=x, w_depth=w_depth, w_point=w_point, b=b)
    for arg, a in (("w_depth", w_depth), ("w_point", w_point)):
        checks.require_rank(concept, arg, a, (4,), " (OIHW)")
    depth, one = checks.shape_of(w_depth)[:2]
    if one != 1 or depth % channels:
        raise ValueError(f"{concept}: w_depth must be [C*M, 1, kh, kw] for the {channels} channels of x "
                         f"(M filters per channel), got {checks.shape_of(w_depth)}")
    o, mixed, ph, pw = checks.shape_of(w_point)
    if (mixed, ph, pw) != (depth, 1, 1):
        raise ValueError(f"{concept}: w_point must be [O, {depth}, 1, 1], a 1x1 conv over the depthwise "
                         f"outputs, got {checks.shape_of(w_point)}")
    if b is not None:
        checks.require_shape(concept, "b", b, (o,), "one bias per output channel")


def separable_flops(x_shape, w_depth_shape, w_point_shape, out_hw) -> int:
    """A depthwise (groups = C, M filters per channel) plus a pointwise conv. Against a
    full k x k conv from C to O channels the ratio is M/O + M/k^2: 1/O + 1/k^2 for
    M = 1 (Howard et al. 2017, MobileNets, section 3.1)."""
    return conv2d_flops(x_shape, w_depth_shape, out_hw) + conv2d_flops(
        (x_shape[0],), w_point_shape, out_hw)


# ---- what the specs share -------------------------------------------------------------

def torch_pads(pads):
    """(top, bottom, left, right) -> F.pad's order, last dimension first."""
    top, bottom, left, right = pads
    return left, right, top, bottom


def tf_pads(pads):
    """(top, bottom, left, right) -> TF's explicit NHWC padding list."""
    top, bottom, left, right = pads
    return [[0, 0], [top, bottom], [left, right], [0, 0]]
