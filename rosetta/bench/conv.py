"""`rosetta bench conv`: conv2d forward + backward in our three implementations and the
two frameworks' built-ins, side by side, on one shape."""
from __future__ import annotations

import statistics
import time
import tracemalloc
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from rosetta.bench import check_and_time
from shared import layouts, lazy
from shared.concepts import _conv


@dataclass(frozen=True)
class Shape:
    batch: int = 8
    channels: int = 64
    size: int = 32
    filters: int = 64
    kernel: int = 3
    padding: int = 1

    def describe(self) -> str:
        return (f"N={self.batch}, C={self.channels}, {self.size}x{self.size}, {self.kernel}x{self.kernel}, "
                f"{self.filters} filters, padding {self.padding}, float32")


def _inputs(shape: Shape, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((shape.batch, shape.channels, shape.size, shape.size)).astype(np.float32)
    w = (rng.standard_normal((shape.filters, shape.channels, shape.kernel, shape.kernel))
         / np.sqrt(shape.channels * shape.kernel ** 2)).astype(np.float32)
    b = rng.standard_normal(shape.filters).astype(np.float32)
    dy = rng.standard_normal((shape.batch, shape.filters, shape.size + 2 * shape.padding - shape.kernel + 1,
                              shape.size + 2 * shape.padding - shape.kernel + 1)).astype(np.float32)
    return x, w, b, dy


# Each contender is run(check): with check=True it returns (y, dx, dw, db) as NumPy arrays
# in canonical layout; the timed calls skip that conversion.

def _numpy(x, w, b, dy, padding):
    from numpy_impl import conv

    def run(check=False):
        # the functions keep no cache: conv2d_backward builds the column matrix again
        y = conv.conv2d(x, w, b, padding=padding)
        return (y, *conv.conv2d_backward(dy, x, w, b, padding=padding))
    return run


def _numpy_layer(x, w, b, dy, padding):
    from numpy_impl import conv
    layer = conv.Convolution(w, b, padding=padding)

    def run(check=False):
        y = layer.forward(x)  # keeps the column matrix for backward, as the book's layer
        dx = layer.backward(dy)
        return y, dx, layer.dW, layer.db
    return run


def _torch(fn, x, w, b, dy, padding, device="cpu"):
    torch = lazy.torch()
    tensors = [torch.from_numpy(a).to(device) for a in (x, w, b, dy)]

    def run(check=False):
        xt, wt, bt = (t.detach().requires_grad_() for t in tensors[:3])
        y = fn(xt, wt, bt, padding=padding)
        grads = torch.autograd.grad(y, (xt, wt, bt), tensors[3])
        if device != "cpu":
            torch.cuda.synchronize()
        return [t.detach().cpu().numpy() for t in (y, *grads)] if check else None
    return run


def _tf(fn, x, w, b, dy, padding):
    tf = lazy.tf()
    xt, wt, bt, dyt = (tf.constant(a) for a in (x, w, b, dy))

    def run(check=False):
        with tf.GradientTape() as tape:
            tape.watch([xt, wt, bt])
            y = fn(xt, wt, bt, padding=padding)
        grads = tape.gradient(y, [xt, wt, bt], output_gradients=dyt)
        return [t.numpy() for t in (y, *grads)] if check else None  # eager CPU ops have finished
    return run


def _tf_builtin(x, w, b, dy, padding):
    """tf.nn.conv2d as a TF user runs it: NHWC images and an HWIO kernel (TF's CPU
    kernels support NHWC only), converted once, outside the timing."""
    tf = lazy.tf()
    xt, wt = tf.constant(layouts.nchw_to_nhwc(x).copy()), tf.constant(layouts.oihw_to_hwio(w).copy())
    bt, dyt = tf.constant(b), tf.constant(layouts.nchw_to_nhwc(dy).copy())
    pads = _conv.tf_pads((padding,) * 4)

    def run(check=False):
        with tf.GradientTape() as tape:
            tape.watch([xt, wt, bt])
            y = tf.nn.conv2d(xt, wt, 1, pads) + bt
        dx, dw, db = tape.gradient(y, [xt, wt, bt], output_gradients=dyt)
        if not check:
            return None
        return (layouts.nhwc_to_nchw(y.numpy()), layouts.nhwc_to_nchw(dx.numpy()),
                layouts.hwio_to_oihw(dw.numpy()), db.numpy())
    return run


def contenders(shape: Shape, device: str = "cpu") -> dict[str, Callable]:
    """name -> run, for the frameworks that are installed."""
    from shared import backends
    x, w, b, dy = _inputs(shape)
    p = shape.padding
    found = {}
    if device == "cpu":
        found[NUMPY] = _numpy_layer(x, w, b, dy, p)
        found["numpy_impl.conv2d + conv2d_backward"] = _numpy(x, w, b, dy, p)
    if backends.installed("torch"):
        from torch_impl import conv as torch_conv
        found["torch_impl.conv2d (im2col)"] = _torch(torch_conv.conv2d, x, w, b, dy, p, _torch_device(device))
        found["torch F.conv2d (built-in)"] = _torch(lazy.F().conv2d, x, w, b, dy, p, _torch_device(device))
    if backends.installed("tf") and device == "cpu":
        from tf_impl import conv as tf_conv
        found["tf_impl.conv2d (im2col)"] = _tf(tf_conv.conv2d, x, w, b, dy, p)
        found["tf.nn.conv2d (built-in, NHWC)"] = _tf_builtin(x, w, b, dy, p)
    return found


def _torch_device(device):
    return "cuda" if device == "gpu" else "cpu"


BUILTIN = "torch F.conv2d (built-in)"
NUMPY = "numpy_impl.Convolution (im2col, the book's layer)"


def numpy_peak_extra_bytes(shape: Shape) -> int:
    """The most memory the NumPy forward + backward holds beyond its inputs, by
    tracemalloc (NumPy reports its array buffers to it)."""
    run = _numpy_layer(*_inputs(shape), shape.padding)
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def column_matrix_bytes(shape: Shape) -> int:
    out = shape.size + 2 * shape.padding - shape.kernel + 1
    return shape.batch * out * out * shape.channels * shape.kernel ** 2 * 4


def flops(shape: Shape) -> int:
    """Forward + backward: the forward's product once for y, once for dx, once for dw."""
    x, w, _, dy = _inputs(shape)
    return 3 * _conv.conv2d_flops(x.shape, w.shape, dy.shape[2:])


def separable_flops(shape: Shape) -> tuple[int, int]:
    """(depthwise-separable, full) forward FLOPs for the same input and output channels."""
    x, w, _, dy = _inputs(shape)
    c, o, k = shape.channels, shape.filters, shape.kernel
    return (_conv.separable_flops(x.shape, (c, 1, k, k), (o, c, 1, 1), dy.shape[2:]),
            _conv.conv2d_flops(x.shape, w.shape, dy.shape[2:]))


def gemm_shapes(shape: Shape) -> list[tuple[int, int, int]]:
    """(m, k, n) of the three matrix products any im2col convolution must do:
    y = col W^T, dW = dy^T col, dcol = dy W."""
    _, w, _, dy = _inputs(shape)
    rows, inner, o = dy.shape[0] * dy.shape[2] * dy.shape[3], w[0].size, w.shape[0]
    return [(rows, inner, o), (o, rows, inner), (rows, o, inner)]


def gemm_floor_ms(shape: Shape, repeat: int) -> float:
    """Median ms of those three products in NumPy's BLAS, with no im2col, col2im or
    layout work: the floor for an im2col implementation on this machine."""
    rng = np.random.default_rng(0)
    pairs = [(rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32))
             for m, k, n in gemm_shapes(shape)]

    def products():
        return [a @ b for a, b in pairs]
    products()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        products()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def run_conv(shape: Shape, repeat: int, device: str = "cpu", on_start: Callable[[str], None] = lambda name: None):
    """Check every contender against torch's built-in, then time each in a block of
    `repeat` runs; the ratio is to torch's built-in."""
    return check_and_time(contenders(shape, device), BUILTIN, flops(shape), repeat, on_start)



def to_json(shape: Shape, results, threads: dict, peak: int | None, gemm_floor: float | None = None) -> dict:
    return {"shape": asdict(shape), "threads": threads, "numpy_peak_extra_bytes": peak, "gemm_floor_ms": gemm_floor,
            "column_matrix_bytes": column_matrix_bytes(shape), "flops_forward_backward": flops(shape),
            "results": [asdict(r) for r in results]}
