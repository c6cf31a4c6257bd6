"""`rosetta bench rnn`: an LSTM's forward + backpropagation through time in our three
implementations and the frameworks' built-ins, side by side, on CPU."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from rosetta.bench import Result, check_and_time
from shared import layouts, lazy


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
    return check_and_time(lstm_contenders(shape), RNN_BUILTIN, lstm_flops(shape), repeat, on_start)


def lstm_to_json(shape: RnnShape, results, threads: dict) -> dict:
    return {"shape": asdict(shape), "dtype": "float32", "cotangent": RNN_COTANGENT, "threads": threads,
            "flops_forward_backward": lstm_flops(shape), "results": [asdict(r) for r in results]}
