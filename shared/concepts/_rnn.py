"""The recurrent cells' shared contract: the canonical parameters, the math of one step,
and the validators all three packages call first.

Canonical layout (the book's TimeRNN / TimeLSTM, and Keras), batch first:
  x   [N, T, D]      a batch of N sequences of T steps, D features each
  h0  [N, H]         the initial hidden state (c0 [N, H] for the LSTM's cell)
  Wx  [D, G*H]       input weights, x_t @ Wx
  Wh  [H, G*H]       recurrent weights, h_{t-1} @ Wh
  gate blocks along the last axis, G of them:
    simple RNN  G = 1
    LSTM        G = 4, blocks (i, f, g, o)  torch's order, = Keras (i, f, c, o);
                the book (vol. 2) slices (f, g, i, o): convert with layouts
    GRU         G = 3, blocks (r, z, n)     torch's order; Keras uses (z, r, h)
  b   [G*H]      one bias for the RNN and the LSTM (torch's bias_ih + bias_hh)
  bx, bh [3H]    two for the GRU: its candidate n uses r * (h Wh_n + bh_n), so the
                 hidden bias cannot be folded into the input one ("reset after",
                 torch's GRU and Keras' reset_after=True)

The step (sigma is the logistic sigmoid):
  RNN   h_t = (1 - alpha) h_{t-1} + alpha tanh(x_t Wx + h_{t-1} Wh + b)
        alpha = 1 is the plain Elman RNN; alpha < 1 a leaky unit (E資格: リーキーユニット)
  LSTM  [a_i, a_f, a_g, a_o] = x_t Wx + h_{t-1} Wh + b
        i, f, o = sigma(a_i), sigma(a_f), sigma(a_o);  g = tanh(a_g)
        c_t = f * c_{t-1} + i * g;  h_t = o * tanh(c_t)
  GRU   [x_r, x_z, x_n] = x_t Wx + bx;  [h_r, h_z, h_n] = h_{t-1} Wh + bh
        r = sigma(x_r + h_r);  z = sigma(x_z + h_z);  n = tanh(x_n + r * h_n)
        h_t = (1 - z) * n + z * h_{t-1}

Outputs: rnn and gru return hs [N, T, H] (h_T = hs[:, -1]); lstm returns the hidden and
the cell states stacked, [2, N, T, H] = (hs, cs), so both are compared and both get a
cotangent.
"""
from __future__ import annotations

import math

import numpy as np

from shared import checks, layouts, lazy
from shared.spec import Override, Tolerance

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
LSTM_GATES = ("i", "f", "g", "o")
GRU_GATES = ("r", "z", "n")


def _validate(concept, x, states, Wx, Wh, biases):
    """(N, T, D, H) after checking every shape against x and Wh."""
    gates = GATES[concept]
    checks.require_floats(concept, x=x, **states, Wx=Wx, Wh=Wh, **biases)
    checks.require_rank(concept, "x", x, (3,), " [N, T, D]")
    n, t, d = checks.shape_of(x)
    if t == 0 or n == 0:
        raise ValueError(f"{concept}: x has no steps or no sequences (shape {(n, t, d)})")
    checks.require_rank(concept, "Wh", Wh, (2,), f" [H, {gates}*H]")
    h = checks.shape_of(Wh)[0]
    blocks = f"{gates}*H = {gates * h}" if gates > 1 else f"H = {h}"
    checks.require_shape(concept, "Wh", Wh, (h, gates * h), f"[H, {gates}*H]")
    checks.require_shape(concept, "Wx", Wx, (d, gates * h), f"[D, {blocks}] with D = {d} from x")
    for name, state in states.items():
        checks.require_shape(concept, name, state, (n, h), f"[N, H] with N = {n} from x and H = {h} from Wh")
    for name, bias in biases.items():
        checks.require_shape(concept, name, bias, (gates * h,), blocks)
    return n, t, d, h


def validate_rnn(x, h0, Wx, Wh, b, *, alpha=1.0):
    checks.require_number_in("rnn", "alpha", alpha, 0.0, 1.0)
    if alpha == 0:
        raise ValueError("rnn: alpha must be in (0, 1]: alpha = 0 never updates the state")
    return _validate("rnn", x, {"h0": h0}, Wx, Wh, {"b": b})


def validate_lstm(x, h0, c0, Wx, Wh, b):
    return _validate("lstm", x, {"h0": h0, "c0": c0}, Wx, Wh, {"b": b})


def validate_gru(x, h0, Wx, Wh, bx, bh):
    return _validate("gru", x, {"h0": h0}, Wx, Wh, {"bx": bx, "bh": bh})


# ---- cases ----------------------------------------------------------------------------

def make_inputs(kind: str, n: int, t: int, d: int, h: int, *, scale: float = 1.0):
    """Random canonical inputs; weights ~ N(0, 1/fan_in) so tanh and sigma stay in their
    curved range (scale > 1 pushes them towards saturation)."""
    gates = GATES[kind]

    def make(rng):
        inputs = {"x": scale * rng.standard_normal((n, t, d)), "h0": 0.5 * rng.standard_normal((n, h))}
        if kind == "lstm":
            inputs["c0"] = rng.standard_normal((n, h))
        inputs["Wx"] = scale * rng.standard_normal((d, gates * h)) / np.sqrt(d)
        inputs["Wh"] = scale * rng.standard_normal((h, gates * h)) / np.sqrt(h)
        if kind == "gru":
            inputs["bx"] = 0.5 * rng.standard_normal(gates * h)
            inputs["bh"] = 0.5 * rng.standard_normal(gates * h)
        else:
            inputs["b"] = 0.5 * rng.standard_normal(gates * h)
        return inputs
    return make


def bad_inputs(kind: str, **changes):
    """An ErrorCase's `make`: valid inputs (N=2, T=3, D=4, H=5) with `changes` applied."""
    def make():
        return {**make_inputs(kind, 2, 3, 4, 5)(np.random.default_rng(0)), **changes}
    return make


def python_loop(kind: str, alpha: float = 1.0):
    """A golden: the step equations above, one scalar at a time in plain Python (math.tanh,
    math.exp, no arrays, no matrix products), for the small cases."""
    def sigma(v):
        return 1.0 / (1.0 + math.exp(-v))

    def golden(inputs):
        x, Wx, Wh = inputs["x"].tolist(), inputs["Wx"].tolist(), inputs["Wh"].tolist()
        hidden = len(Wh)
        hs_all, cs_all = [], []
        for n, sequence in enumerate(x):
            h = inputs["h0"][n].tolist()
            c = inputs["c0"][n].tolist() if kind == "lstm" else None
            hs, cs = [], []
            for x_t in sequence:
                ax = [sum(x_t[k] * Wx[k][j] for k in range(len(x_t))) for j in range(len(Wx[0]))]
                ah = [sum(h[k] * Wh[k][j] for k in range(hidden)) for j in range(len(Wh[0]))]
                if kind == "rnn":
                    b = inputs["b"].tolist()
                    h = [(1 - alpha) * h[j] + alpha * math.tanh(ax[j] + ah[j] + b[j]) for j in range(hidden)]
                elif kind == "lstm":
                    a = [ax[j] + ah[j] + inputs["b"][j] for j in range(4 * hidden)]
                    i, f, g, o = (a[k * hidden:(k + 1) * hidden] for k in range(4))
                    c = [sigma(f[j]) * c[j] + sigma(i[j]) * math.tanh(g[j]) for j in range(hidden)]
                    h = [sigma(o[j]) * math.tanh(c[j]) for j in range(hidden)]
                else:
                    ax = [ax[j] + inputs["bx"][j] for j in range(3 * hidden)]
                    ah = [ah[j] + inputs["bh"][j] for j in range(3 * hidden)]
                    r = [sigma(ax[j] + ah[j]) for j in range(hidden)]
                    z = [sigma(ax[hidden + j] + ah[hidden + j]) for j in range(hidden)]
                    nn = [math.tanh(ax[2 * hidden + j] + r[j] * ah[2 * hidden + j]) for j in range(hidden)]
                    h = [(1 - z[j]) * nn[j] + z[j] * h[j] for j in range(hidden)]
                hs.append(h)
                cs.append(c)
            hs_all.append(hs)
            cs_all.append(cs)
        return np.array([hs_all, cs_all]) if kind == "lstm" else np.array(hs_all)
    return golden


# ---- the frameworks' own layers, loaded with canonical weights (oracles) ----------------

TORCH_NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def torch_layer(kind: str, x, h):
    torch = lazy.torch()
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    return cls(int(x.shape[2]), h, batch_first=True, dtype=x.dtype, device=x.device)


def torch_call(module, weights, *args):
    """The module run on OUR tensors (torch.func.functional_call), so autograd reaches the
    canonical weights through the converter."""
    return lazy.torch().func.functional_call(module, dict(zip(TORCH_NAMES, weights)), args)


def torch_rnn(x, h0, Wx, Wh, b, *, alpha=1.0):
    module = torch_layer("rnn", x, int(Wh.shape[0]))
    return torch_call(module, layouts.rnn_to_torch(Wx, Wh, b), x, h0[None])[0]


def torch_lstm(x, h0, c0, Wx, Wh, b):
    torch = lazy.torch()
    module, weights = torch_layer("lstm", x, int(Wh.shape[0])), layouts.rnn_to_torch(Wx, Wh, b)
    hs, _ = torch_call(module, weights, x, (h0[None], c0[None]))
    # nn.LSTM returns the cell state of the last step only: one step at a time for the rest
    state, cs = (h0[None], c0[None]), []
    for t in range(int(x.shape[1])):
        _, state = torch_call(module, weights, x[:, t:t + 1], state)
        cs.append(state[1][0])
    return torch.stack([hs, torch.stack(cs, 1)])


def torch_gru(x, h0, Wx, Wh, bx, bh):
    module = torch_layer("gru", x, int(Wh.shape[0]))
    return torch_call(module, layouts.gru_to_torch(Wx, Wh, bx, bh), x, h0[None])[0]


def keras_layer(kind: str, x, weights, **options):
    keras = lazy.keras()
    cls = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[kind]
    layer = cls(int(weights[1].shape[0]), return_sequences=True, return_state=True, dtype=x.dtype.name,
                **options)
    layer.build((None, None, int(x.shape[2])))
    layer.set_weights([np.asarray(w) for w in weights])
    return layer


def keras_rnn(x, h0, Wx, Wh, b, *, alpha=1.0):
    layer = keras_layer("rnn", x, layouts.rnn_to_keras(Wx.numpy(), Wh.numpy(), b.numpy()))
    return layer(x, initial_state=[h0])[0]


def keras_lstm(x, h0, c0, Wx, Wh, b):
    tf = lazy.tf()
    layer = keras_layer("lstm", x, layouts.rnn_to_keras(Wx.numpy(), Wh.numpy(), b.numpy()))
    hs = layer(x, initial_state=[h0, c0])[0]
    state, cs = [h0, c0], []
    for t in range(int(x.shape[1])):
        state = layer(x[:, t:t + 1], initial_state=state)[1:]
        cs.append(state[1])
    return tf.stack([hs, tf.stack(cs, 1)])


def keras_gru(x, h0, Wx, Wh, bx, bh):
    layer = keras_layer("gru", x, layouts.gru_to_keras(Wx.numpy(), Wh.numpy(), bx.numpy(), bh.numpy()))
    return layer(x, initial_state=[h0])[0]


# The "saturated" cases (weights and inputs x4) sum pre-activation terms of up to 60 in
# magnitude (measured: max sum |x_k Wx_kj| + |h_k Wh_kj| = 59.6 RNN, 65.3 LSTM, 58.7 GRU).
# float32 rounds such a D + H = 7-term sum by up to 7 eps32 sum|terms| = 5.5e-5, and tanh',
# sigma' <= 1 pass that on to h and to the gradients' factors (1 - y^2): the table's atol
# assumes O(1) terms. A second source adds to it: a float32 tanh within a few ulp of +-1
# (TF's is exactly +-1 for |a| >= 7.9) gives tanh' = 1 - y^2 an absolute error up to 5.5e-7
# per unit (derived for output_rnn as SATURATED_TANH_F32). Measured worst of both: 7e-6.
SATURATED_F32 = Tolerance(5.5e-5, 1e-5, "float32 pre-activations summing terms up to 65: 7 eps32 sum|terms|")


def saturated_overrides():
    return tuple(Override(kind, SATURATED_F32, case="saturated", dtype="float32")
                 for kind in ("forward", "grad", "builtin"))


# BPTT over 24-32 steps: dWx, dWh and db sum N*T = 72-96 outer products; in rnn's long-32
# the terms of one dWx entry add up to 66 in magnitude, entries reach 22.6, and float32
# rounding of such sums scales with the array's largest entry, not with each entry (an
# entry of 0.1 carries the rounding of terms of size 4): a norm-wise bound, as the
# table's training steps use. Measured worst: 5.0e-6 = 0.22 of 1e-6 * 22.6.
LONG_BPTT_F32 = Tolerance(1e-6, 1e-5, "float32 BPTT: weight gradients sum N*T products over 24-32 steps; "
                          "rounding scales with the array's largest entry", scaled=True)


def long_overrides(case: str):
    return (Override("grad", LONG_BPTT_F32, case=case, dtype="float32"),)


# ---- the output-recurrence network (Goodfellow et al. 10.2.1) ----------------------------
#
# The recurrence runs through the output o, not the hidden state:
#   x   [N, T, D]  inputs;  o0 [N, K] the output "before" step 1
#   Wx  [D, H], Wo [K, H], b [H]   h_t = tanh(x_t Wx + o_{t-1} Wo + b)
#   V   [H, K], c [K]              o_t = h_t V + c
#   teacher [N, T, K] or None      the true outputs y; when given, step t is fed y_{t-1}
#                                  (o0 at step 1) instead of its own o_{t-1}
# H and K are read from V, D from x.

def validate_output_rnn(x, o0, Wx, Wo, b, V, c, *, teacher=None):
    """(N, T, D, H, K) after checking every shape against x and V."""
    concept = "output_rnn"
    arrays = {"x": x, "o0": o0, "Wx": Wx, "Wo": Wo, "b": b, "V": V, "c": c}
    if teacher is not None:
        if not hasattr(teacher, "shape"):
            raise TypeError(f"{concept}: teacher must be an array [N, T, K] of the true outputs, or None; "
                            f"got {type(teacher).__name__}")
        arrays["teacher"] = teacher
    checks.require_floats(concept, **arrays)
    checks.require_rank(concept, "x", x, (3,), " [N, T, D]")
    n, t, d = checks.shape_of(x)
    if t == 0 or n == 0:
        raise ValueError(f"{concept}: x has no steps or no sequences (shape {(n, t, d)})")
    checks.require_rank(concept, "V", V, (2,), " [H, K]")
    h, k = checks.shape_of(V)
    checks.require_shape(concept, "Wx", Wx, (d, h), f"[D, H] with D = {d} from x and H = {h} from V")
    checks.require_shape(concept, "Wo", Wo, (k, h), f"[K, H] with K = {k} and H = {h} from V")
    checks.require_shape(concept, "b", b, (h,), f"H = {h} from V")
    checks.require_shape(concept, "c", c, (k,), f"K = {k} from V")
    checks.require_shape(concept, "o0", o0, (n, k), f"[N, K] with N = {n} from x and K = {k} from V")
    if teacher is not None:
        checks.require_shape(concept, "teacher", teacher, (n, t, k),
                             f"[N, T, K], the outputs' shape: N = {n}, T = {t} from x, K = {k} from V")
    return n, t, d, h, k


def make_output_inputs(n: int, t: int, d: int, h: int, k: int, *, scale: float = 1.0, teacher: bool = False):
    """Random inputs for output_rnn, weights ~ N(0, 1/fan_in) as make_inputs; scale > 1
    enlarges x, Wx and the recurrent Wo (tanh saturates), not the read-out V. With
    `teacher`, true outputs ~ N(0, 1): the size of the o_t that V, c produce."""
    def make(rng):
        inputs = {"x": scale * rng.standard_normal((n, t, d)), "o0": 0.5 * rng.standard_normal((n, k)),
                  "Wx": scale * rng.standard_normal((d, h)) / np.sqrt(d),
                  "Wo": scale * rng.standard_normal((k, h)) / np.sqrt(k),
                  "b": 0.5 * rng.standard_normal(h),
                  "V": rng.standard_normal((h, k)) / np.sqrt(h), "c": 0.5 * rng.standard_normal(k)}
        if teacher:
            inputs["teacher"] = rng.standard_normal((n, t, k))
        return inputs
    return make


def bad_output_inputs(**changes):
    """An ErrorCase's `make`: valid output_rnn inputs (N=2, T=3, D=4, H=5, K=3) with `changes`."""
    def make():
        return {**make_output_inputs(2, 3, 4, 5, 3, teacher=True)(np.random.default_rng(0)), **changes}
    return make


def output_python_loop(inputs):
    """A golden for output_rnn: the two equations one scalar at a time in plain Python,
    teacher forcing included."""
    x, Wx, Wo, V = (inputs[k].tolist() for k in ("x", "Wx", "Wo", "V"))
    b, c = inputs["b"].tolist(), inputs["c"].tolist()
    teacher = inputs["teacher"].tolist() if inputs.get("teacher") is not None else None
    hidden, outputs = len(V), len(c)
    result = []
    for n, sequence in enumerate(x):
        o, os = inputs["o0"][n].tolist(), []
        for t, x_t in enumerate(sequence):
            fed = teacher[n][t - 1] if teacher is not None and t > 0 else o
            h = [math.tanh(sum(x_t[i] * Wx[i][j] for i in range(len(x_t)))
                           + sum(fed[i] * Wo[i][j] for i in range(outputs)) + b[j]) for j in range(hidden)]
            o = [sum(h[j] * V[j][m] for j in range(hidden)) + c[m] for m in range(outputs)]
            os.append(o)
        result.append(os)
    return np.array(result)


def _fed_outputs(o0, teacher, concat, stack):
    """Teacher forcing's inputs to the recurrence, all known beforehand: o0, y_1 .. y_{T-1}."""
    return concat([stack([o0], 1), teacher[:, :-1]], 1)


def torch_output_rnn(x, o0, Wx, Wo, b, V, c, *, teacher=None):
    """torch.nn.RNNCell(tanh) on [x_t, o_{t-1}] (its own h_{t-1} path zeroed) and nn.Linear
    for the read-out, on OUR tensors (functional_call), so gradients reach them."""
    torch = lazy.torch()
    (n, t, d), (hidden, k) = x.shape, V.shape
    options = {"dtype": x.dtype, "device": x.device}
    cell = torch.nn.RNNCell(d + k, hidden, nonlinearity="tanh", **options)
    readout = torch.nn.Linear(hidden, k, **options)
    # the cell's hidden-to-hidden term h_{t-1} W_hh: zero weights (and the zero state hx
    # = None gives) leave only the input term, [x_t, o_{t-1}] [Wx; Wo] + b
    cell_weights = {"weight_ih": torch.cat([Wx, Wo]).T, "weight_hh": torch.zeros(hidden, hidden, **options),
                    "bias_ih": b, "bias_hh": torch.zeros(hidden, **options)}

    def step(rows):
        h = torch.func.functional_call(cell, cell_weights, (rows,))
        return torch.func.functional_call(readout, {"weight": V.T, "bias": c}, (h,))

    if teacher is not None:
        # every step's input is known beforehand: the T steps are N*T independent rows of one batch
        fed = _fed_outputs(o0, teacher, torch.cat, torch.stack)
        return step(torch.cat([x, fed], 2).reshape(n * t, d + k)).reshape(n, t, k)
    o, os = o0, []
    for s in range(t):
        o = step(torch.cat([x[:, s], o], 1))
        os.append(o)
    return torch.stack(os, 1)


def keras_output_rnn(x, o0, Wx, Wo, b, V, c, *, teacher=None):
    """keras.layers.SimpleRNNCell on [x_t, o_{t-1}] (recurrent kernel zeroed) and Dense."""
    tf, keras = lazy.tf(), lazy.keras()
    (n, t, d), (hidden, k) = x.shape, V.shape
    cell = keras.layers.SimpleRNNCell(hidden, dtype=x.dtype.name)
    cell.build((None, d + k))
    cell.set_weights([np.concatenate([Wx.numpy(), Wo.numpy()]), np.zeros((hidden, hidden)), b.numpy()])
    readout = keras.layers.Dense(k, dtype=x.dtype.name)
    readout.build((None, hidden))
    readout.set_weights([V.numpy(), c.numpy()])
    zeros = [tf.zeros((n * t if teacher is not None else n, hidden), x.dtype)]

    def step(rows):
        return readout(cell(rows, zeros)[0])

    if teacher is not None:
        fed = _fed_outputs(o0, teacher, tf.concat, tf.stack)
        return tf.reshape(step(tf.reshape(tf.concat([x, fed], 2), (n * t, d + k))), (n, t, k))
    o, os = o0, []
    for s in range(t):
        o = step(tf.concat([x[:, s], o], 1))
        os.append(o)
    return tf.stack(os, 1)


def time_layer(kind: str):
    """The `layer` check of rnn, lstm and gru: the book's TimeRNN / TimeLSTM / TimeGRU
    (numpy_impl.rnn) started from the case's h0 (and c0), held to the function's reference;
    stateful, the sequence fed in two blocks gives the same hs (the state carried across
    the cut, as truncated BPTT does); not stateful, each call starts from zeros, as the
    function from h0 = 0 (and c0 = 0)."""
    def run(module, ref, kwargs):
        inputs = ref.inputs
        x, states = inputs["x"], [inputs["h0"]] + ([inputs["c0"]] if kind == "lstm" else [])
        weights = {k: v for k, v in inputs.items() if k not in ("x", "h0", "c0")}
        cls = {"rnn": module.TimeRNN, "lstm": module.TimeLSTM, "gru": module.TimeGRU}[kind]

        def layer():
            started = cls(**weights, **kwargs, stateful=True)
            started.state = list(states)
            return started

        whole, hs_ref = layer(), ref.out[0] if kind == "lstm" else ref.out
        pairs = {"forward": (whole.forward(x), hs_ref)}
        cut = x.shape[1] // 2
        if cut:
            blocks = layer()
            pairs["stateful"] = (np.concatenate([blocks.forward(x[:, :cut]), blocks.forward(x[:, cut:])], axis=1),
                                 hs_ref)
        # not stateful (the default): every call starts from zeros, whatever the last one left
        fresh = cls(**weights, **kwargs)
        fresh.forward(x)
        zero = getattr(module, kind)(**{**inputs, **{name: np.zeros_like(s) for name, s in
                                                     zip(("h0", "c0"), states)}}, **kwargs)
        pairs["zero-state"] = (fresh.forward(x), zero[0] if kind == "lstm" else zero)
        dhs = ref.cotangent[0] if kind == "lstm" else ref.cotangent
        dxs = whole.backward(dhs.astype(x.dtype))
        if kind == "lstm":
            # only hs leaves the layer: its gradients are the function's with no cotangent on cs
            # (the function is held to torch, Keras and finite differences by its own checks)
            want = dict(zip(("x", "h0", "c0", *weights), module.lstm_backward(
                np.stack([dhs, np.zeros_like(dhs)]).astype(x.dtype), **inputs, **kwargs)))
        else:
            want = ref.grads
        pairs.update({"grad:x": (dxs, want["x"]), "grad:h0": (whole.dh, want["h0"])})
        pairs.update({f"grad:{name}": (whole.grads[name], want[name]) for name in weights})
        return pairs
    return run
