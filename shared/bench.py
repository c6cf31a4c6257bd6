"""`rosetta bench conv`: conv2d forward + backward in our three implementations and the
two frameworks' built-ins, side by side, on one shape. `rosetta bench rnn`: the same for
an LSTM's forward + backpropagation through time.

Speed is measured here, never in a test: a timing depends on the machine. Every
contender first computes the same output and gradients as F.conv2d (the error is in the
table), so a fast but wrong implementation cannot hide.
"""
from __future__ import annotations

import statistics
import time
import tracemalloc
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

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


@dataclass
class Result:
    name: str
    median_ms: float
    gflops: float
    max_err: float        # max |output or gradient - F.conv2d's| / max |F.conv2d's|
    ratio: float = float("nan")  # median / torch built-in's median


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


def _max_err(got, want) -> float:
    """None in got: an array that implementation does not expose, left out."""
    return max(float(np.max(np.abs(np.asarray(g, np.float64) - w)) / max(float(np.max(np.abs(w))), 1e-30))
               for g, w in zip(got, want) if g is not None)


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
    return _check_and_time(contenders(shape, device), BUILTIN, flops(shape), repeat, on_start)


SETTLE_S = 0.5  # seconds between contenders, for the worker threads to fall asleep


def _check_and_time(found: dict[str, Callable], builtin: str, work: int, repeat: int,
                    on_start: Callable[[str], None]) -> list[Result]:
    want = [np.asarray(a, np.float64) for a in found[builtin](check=True)] if builtin in found else None
    results = []
    for name, run in found.items():
        on_start(name)
        err = _max_err(run(check=True), want) if want is not None else float("nan")
        # torch's OpenMP and TF's Eigen workers spin-wait for a while after their last
        # op, taking the cores from whoever runs next: let them fall asleep first
        time.sleep(SETTLE_S)
        run()  # warm-up: first calls allocate and compile
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        results.append(Result(name, median * 1e3, work / median / 1e9, err))
    base = next((r.median_ms for r in results if r.name == builtin), float("nan"))
    for r in results:
        r.ratio = r.median_ms / base
    return results


def to_json(shape: Shape, results, threads: dict, peak: int | None, gemm_floor: float | None = None) -> dict:
    return {"shape": asdict(shape), "threads": threads, "numpy_peak_extra_bytes": peak, "gemm_floor_ms": gemm_floor,
            "column_matrix_bytes": column_matrix_bytes(shape), "flops_forward_backward": flops(shape),
            "results": [asdict(r) for r in results]}


def threads() -> dict:
    """Threads each library may use: the timings mean little without them."""
    from shared import backends
    info = {}
    try:
        from threadpoolctl import threadpool_info
        info["numpy BLAS"] = ", ".join(f"{p['internal_api']} {p['num_threads']}" for p in threadpool_info()
                                       if p["user_api"] == "blas") or "unknown"
    except ImportError:  # threadpoolctl comes with scikit-learn; without it, say so
        info["numpy BLAS"] = "unknown (threadpoolctl not installed)"
    if backends.installed("torch"):
        info["torch"] = str(lazy.torch().get_num_threads())
    if backends.installed("tf"):
        tf = lazy.tf()
        info["tf intra-op"] = str(tf.config.threading.get_intra_op_parallelism_threads() or "default (all cores)")
    return info


# ---- `rosetta bench rnn`: LSTM forward + BPTT -----------------------------------------

@dataclass(frozen=True)
class RnnShape:
    batch: int = 32
    steps: int = 32
    features: int = 128
    hidden: int = 128

    def describe(self) -> str:
        return f"N={self.batch}, T={self.steps}, D={self.features}, H={self.hidden}, float32"


RNN_BUILTIN = "torch nn.LSTM (built-in)"
RNN_NUMPY = "numpy_impl.rnn.lstm + lstm_backward"
RNN_NUMPY_LAYER = "numpy_impl.rnn.TimeLSTM (the book's layer)"
# nn.LSTM and Keras' LSTM return hs and the LAST cell state only, so the contenders all
# differentiate hs alone: dhs is random, dcs is zero (the book's TimeLSTM.backward too)
RNN_COTANGENT = "random dhs [N, T, H]; dcs = 0 (the built-ins output hs and the last c only)"


def _lstm_inputs(shape: RnnShape, seed: int = 0):
    """[x, h0, c0, Wx, Wh, b] in the canonical layout (shared/concepts/_rnn.py), and dhs."""
    from shared.concepts import _rnn
    rng = np.random.default_rng(seed)
    made = _rnn.make_inputs("lstm", shape.batch, shape.steps, shape.features, shape.hidden)(rng)
    dhs = rng.standard_normal((shape.batch, shape.steps, shape.hidden))
    return [a.astype(np.float32) for a in made.values()], dhs.astype(np.float32)


# Each contender is run(check): with check=True it returns (hs, c_T, dx, dh0, dc0, dWx,
# dWh, db) as NumPy arrays in canonical layout; the timed calls skip that conversion.

def _numpy_lstm(args, dhs):
    from numpy_impl import rnn
    dy = np.stack([dhs, np.zeros_like(dhs)])

    def run(check=False):
        # lstm_backward runs the forward again for its caches: the functional API keeps none
        out = rnn.lstm(*args)
        return (out[0], out[1][:, -1], *rnn.lstm_backward(dy, *args))
    return run


def _numpy_lstm_layer(args, dhs):
    from numpy_impl import rnn
    x, h0, c0, Wx, Wh, b = args
    layer = rnn.TimeLSTM(Wx, Wh, b, stateful=True)

    def run(check=False):
        layer.state = [h0, c0]  # a stateful layer starts from the state it holds
        hs = layer.forward(x)  # keeps every step's gates for backward: one forward only
        dx = layer.backward(dhs)
        # the layer hands on dh0 (to a seq2seq encoder) but not dc0: None, left out of the check
        return hs, layer.state[1], dx, layer.dh, None, *layer.grads.values()
    return run


def _torch_lstm(args, dhs):
    torch = lazy.torch()
    from torch_impl import rnn
    tensors, dhs_t = [torch.from_numpy(a) for a in args], torch.from_numpy(dhs)

    def run(check=False):
        leaves = [t.detach().requires_grad_() for t in tensors]
        out = rnn.lstm(*leaves)
        grads = torch.autograd.grad(out[0], leaves, dhs_t)
        return [t.detach().numpy() for t in (out[0], out[1][:, -1], *grads)] if check else None
    return run


def _torch_builtin_lstm(args, dhs):
    """nn.LSTM as a torch user runs it: its own parameters, converted once, outside the
    timing; the gradients of all four (both biases too) are computed."""
    torch = lazy.torch()
    from shared.concepts import _rnn
    x, h0, c0 = (torch.from_numpy(a) for a in args[:3])
    module = torch.nn.LSTM(args[0].shape[2], args[4].shape[0], batch_first=True)
    weights = [getattr(module, name) for name in _rnn.TORCH_NAMES]
    with torch.no_grad():
        for p, w in zip(weights, layouts.rnn_to_torch(*(torch.from_numpy(a) for a in args[3:]))):
            p.copy_(w)
    dhs_t = torch.from_numpy(dhs)

    def run(check=False):
        leaves = [t.detach().requires_grad_() for t in (x, h0, c0)]
        hs, (_, c_n) = module(leaves[0], (leaves[1][None], leaves[2][None]))
        dx, dh0, dc0, dw_ih, dw_hh, db_ih, _ = torch.autograd.grad(hs, (*leaves, *weights), dhs_t)
        if not check:
            return None
        # canonical b = bias_ih + bias_hh: its gradient is either one's
        return [t.detach().numpy() for t in (hs, c_n[0], dx, dh0, dc0, dw_ih.T, dw_hh.T, db_ih)]
    return run


def _tf_lstm(args, dhs):
    tf = lazy.tf()
    from tf_impl import rnn
    tensors, dhs_t = [tf.constant(a) for a in args], tf.constant(dhs)

    def run(check=False):
        with tf.GradientTape() as tape:
            tape.watch(tensors)
            out = rnn.lstm(*tensors)
            hs = out[0]  # inside the tape: the slice must be recorded too
        grads = tape.gradient(hs, tensors, output_gradients=dhs_t)
        return [t.numpy() for t in (out[0], out[1][:, -1], *grads)] if check else None
    return run


def _keras_lstm(args, dhs, compiled: bool):
    """keras.layers.LSTM with the canonical weights (Keras' layout is ours); compiled: in
    a tf.function, as Model.fit runs a training step, else eagerly, op by op."""
    tf = lazy.tf()
    from shared.concepts import _rnn
    x, h0, c0 = (tf.constant(a) for a in args[:3])
    layer = _rnn.keras_layer("lstm", x, layouts.rnn_to_keras(*args[3:]))
    dhs_t = tf.constant(dhs)

    def step():
        with tf.GradientTape() as tape:
            tape.watch([x, h0, c0])
            hs, _, c_n = layer(x, initial_state=[h0, c0])
        return hs, c_n, tape.gradient(hs, [x, h0, c0, *layer.trainable_variables], output_gradients=dhs_t)
    step = tf.function(step) if compiled else step

    def run(check=False):
        hs, c_n, grads = step()
        return [t.numpy() for t in (hs, c_n, *grads)] if check else None
    return run


def lstm_contenders(shape: RnnShape) -> dict[str, Callable]:
    """name -> run, for the frameworks that are installed."""
    from shared import backends
    args, dhs = _lstm_inputs(shape)
    found = {RNN_NUMPY: _numpy_lstm(args, dhs), RNN_NUMPY_LAYER: _numpy_lstm_layer(args, dhs)}
    if backends.installed("torch"):
        found["torch_impl.rnn.lstm (loop, autograd)"] = _torch_lstm(args, dhs)
        found[RNN_BUILTIN] = _torch_builtin_lstm(args, dhs)
    if backends.installed("tf"):
        found["tf_impl.rnn.lstm (loop, GradientTape)"] = _tf_lstm(args, dhs)
        found["keras LSTM (built-in, eager)"] = _keras_lstm(args, dhs, compiled=False)
        found["keras LSTM (built-in, tf.function)"] = _keras_lstm(args, dhs, compiled=True)
    return found


def lstm_flops(shape: RnnShape) -> int:
    """Forward + backward, matrix products only: the forward's x_t Wx + h Wh, 2 N (D + H) 4H
    per step, then the backward's dx, dh (through Wx, Wh) and dWx, dWh, twice that. The
    gates' elementwise work, some 50 N H per step, is left out: about 1% at D = H = 128."""
    n, t, d, h = shape.batch, shape.steps, shape.features, shape.hidden
    return 3 * 2 * n * t * (d + h) * 4 * h


def run_lstm(shape: RnnShape, repeat: int, on_start: Callable[[str], None] = lambda name: None) -> list[Result]:
    """Check every contender against nn.LSTM, then time each in a block of `repeat` runs;
    the ratio is to nn.LSTM."""
    return _check_and_time(lstm_contenders(shape), RNN_BUILTIN, lstm_flops(shape), repeat, on_start)


def lstm_to_json(shape: RnnShape, results, threads: dict) -> dict:
    return {"shape": asdict(shape), "dtype": "float32", "cotangent": RNN_COTANGENT, "threads": threads,
            "flops_forward_backward": lstm_flops(shape), "results": [asdict(r) for r in results]}
