"""Recurrent layers 再帰型ニューラルネットワーク (RNN with leaky units, LSTM, GRU) and their
backward by hand: 誤差逆伝播法 through time (BPTT, 通時的誤差逆伝播法), as in ゼロから作る 2's
TimeRNN / TimeLSTM.

One step is a small layer of its own: forward returns the new state and a cache, backward
takes the gradient reaching the new state and returns the gradients of its inputs. A
sequence is the same step T times:
    forward   run the steps t = 1..T, keep every step's cache
    backward  walk the steps in reverse; h_t (and c_t) reach the loss twice, through the
              output at t and through step t + 1, so those two gradients ADD; the same
              Wx, Wh, b serve every step, so their gradient is the SUM over the steps.
Shapes and gate blocks (i, f, g, o) / (r, z, n): shared/concepts/_rnn.py.
"""
import numpy as np

from shared.concepts._rnn import validate_gru, validate_lstm, validate_output_rnn, validate_rnn


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


# ---- one step each, forward and backward (the seq2seq decoder calls these directly) ----

def _rnn_step(x_t, h_prev, Wx, Wh, b, alpha=1.0):
    y = np.tanh(x_t @ Wx + h_prev @ Wh + b)
    h = (1 - alpha) * h_prev + alpha * y
    return h, (x_t, h_prev, y, alpha)


def _rnn_step_backward(dh, cache, Wx, Wh):
    """dh: everything that reaches h_t. Returns (dx_t, dh_prev, dWx, dWh, db)."""
    x_t, h_prev, y, alpha = cache
    da = dh * alpha * (1 - y ** 2)  # tanh' = 1 - tanh^2
    # the leaky path (1 - alpha) h_prev carries dh straight back, past the vanishing tanh'
    dh_prev = dh * (1 - alpha) + da @ Wh.T
    return da @ Wx.T, dh_prev, x_t.T @ da, h_prev.T @ da, da.sum(axis=0)


def rnn_step(x_t, h_prev, Wx, Wh, b, alpha=1.0):
    """h_t from x_t [N, D] and h_{t-1} [N, H], as in torch_impl and tf_impl (_rnn_step also
    returns what its backward needs: the book's RNN layer keeps it as self.cache)."""
    return _rnn_step(x_t, h_prev, Wx, Wh, b, alpha)[0]


def _lstm_cell(a, c_prev):
    """The LSTM step after its matrix products: a = x_t Wx + h_{t-1} Wh + b [N, 4H].
    Returns h_t, c_t and the gates (i, f, g, o, tanh c_t) that backward needs."""
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)  # the gate blocks (i, f, g, o)
    i, f, g, o = _sigmoid(a_i), _sigmoid(a_f), np.tanh(a_g), _sigmoid(a_o)
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    return o * tanh_c, c, (i, f, g, o, tanh_c)


def _lstm_cell_backward(dh, dc, c_prev, i, f, g, o, tanh_c):
    """dh, dc: everything that reaches h_t and c_t. Returns (dA, dc_prev): the gradient of
    the pre-activations a [N, 4H] and of c_{t-1}."""
    dc = dc + dh * o * (1 - tanh_c ** 2)  # c_t also reaches the loss through h_t = o tanh(c_t)
    do = dh * tanh_c
    di, df, dg = dc * g, dc * c_prev, dc * i
    # back through the gates' nonlinearities: sigma' = s (1 - s), tanh' = 1 - t^2
    dA = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g ** 2), do * o * (1 - o)], axis=1)
    # c_{t-1} reaches c_t through the forget gate alone, no squashing: the LSTM's highway
    return dA, dc * f


def _lstm_step(x_t, h_prev, c_prev, Wx, Wh, b):
    # one matrix product for all four gates, then the cell cuts it into the blocks
    h, c, gates = _lstm_cell(x_t @ Wx + h_prev @ Wh + b, c_prev)
    return h, c, (x_t, h_prev, c_prev, *gates)


def _lstm_step_backward(dh, dc, cache, Wx, Wh):
    """dh, dc: everything that reaches h_t and c_t. Returns (dx_t, dh_prev, dc_prev, dWx, dWh, db)."""
    x_t, h_prev, c_prev, *gates = cache
    dA, dc_prev = _lstm_cell_backward(dh, dc, c_prev, *gates)
    return dA @ Wx.T, dA @ Wh.T, dc_prev, x_t.T @ dA, h_prev.T @ dA, dA.sum(axis=0)


def lstm_step(x_t, h_prev, c_prev, Wx, Wh, b):
    """(h_t, c_t) from x_t, h_{t-1}, c_{t-1}, as in torch_impl and tf_impl."""
    return _lstm_step(x_t, h_prev, c_prev, Wx, Wh, b)[:2]


def _gru_step(x_t, h_prev, Wx, Wh, bx, bh):
    xr, xz, xn = np.split(x_t @ Wx + bx, 3, axis=1)
    hr, hz, hn = np.split(h_prev @ Wh + bh, 3, axis=1)
    r, z = _sigmoid(xr + hr), _sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)  # "reset after": r scales h Wh_n + bh_n, so hn is cached
    return (1 - z) * n + z * h_prev, (x_t, h_prev, r, z, n, hn)


def _gru_step_backward(dh, cache, Wx, Wh):
    """dh: everything that reaches h_t. Returns (dx_t, dh_prev, dWx, dWh, dbx, dbh)."""
    x_t, h_prev, r, z, n, hn = cache
    # h_t = (1 - z) n + z h_prev: a mix of the candidate and the old state
    dn, dz = dh * (1 - z), dh * (h_prev - n)
    dan = dn * (1 - n ** 2)
    dar, daz = dan * hn * r * (1 - r), dz * z * (1 - z)
    dAx = np.concatenate([dar, daz, dan], axis=1)
    dAh = np.concatenate([dar, daz, dan * r], axis=1)  # h's candidate part went through r
    dh_prev = dh * z + dAh @ Wh.T  # z h_prev is the update gate's direct path back
    return dAx @ Wx.T, dh_prev, x_t.T @ dAx, h_prev.T @ dAh, dAx.sum(axis=0), dAh.sum(axis=0)


def gru_step(x_t, h_prev, Wx, Wh, bx, bh):
    """h_t from x_t and h_{t-1}, as in torch_impl and tf_impl."""
    return _gru_step(x_t, h_prev, Wx, Wh, bx, bh)[0]


# ---- the time loops, shared by every cell ----------------------------------------------

def _time_forward(step, x, states, params):
    """step over t = 1..T from the initial states: each state's sequence [N, T, H] (hs, and
    cs for the LSTM), and every step's cache."""
    per_step, caches = [], []
    for t in range(x.shape[1]):
        *states, cache = step(x[:, t], *states, *params)
        per_step.append(states)
        caches.append(cache)
    return [np.stack(sequence, axis=1) for sequence in zip(*per_step)], caches


def _time_backward(step_backward, dseqs, caches, x, Wx, Wh):
    """BPTT. dseqs: the gradients of the state sequences from outside (dhs, and dcs for the
    LSTM). Returns dx, the initial states' gradients, and the weights' gradients."""
    dx = np.empty_like(x)
    dstates = [np.zeros_like(d[:, 0]) for d in dseqs]  # nothing comes back from after step T
    dparams = None
    for t in reversed(range(x.shape[1])):
        # the state at t: its gradient from the output at t plus the one from step t + 1
        dx[:, t], *grads = step_backward(*(d[:, t] + ds for d, ds in zip(dseqs, dstates)), caches[t], Wx, Wh)
        dstates, dweights = grads[:len(dseqs)], grads[len(dseqs):]
        if dparams is None:
            dparams = dweights
        else:  # the same weights at every step: their gradient sums the steps'
            for total, g in zip(dparams, dweights):
                total += g
    return dx, dstates, dparams


def _rows(a):
    """[N, T, K] -> [N*T, K]: every step of every sequence as one row of a matrix."""
    return a.reshape(-1, a.shape[-1])


def _lstm_time_forward(x, states, params):
    """_time_forward(_lstm_step, ...) with the same results, arranged for speed: x_t Wx does
    not depend on the state, so one matrix product does it for all T steps up front; only
    h_{t-1} Wh has to wait for the step before."""
    (h0, c0), (Wx, Wh, b) = states, params
    xw = (_rows(x) @ Wx).reshape(*x.shape[:2], -1)  # [N, T, 4H]: x_t Wx for every t
    h, c, hs, cs, gates = h0, c0, [], [], []
    for t in range(x.shape[1]):
        h, c, step_gates = _lstm_cell(xw[:, t] + h @ Wh + b, c)
        hs.append(h)
        cs.append(c)
        gates.append(step_gates)
    hs, cs = np.stack(hs, axis=1), np.stack(cs, axis=1)
    return [hs, cs], (h0, c0, hs, cs, gates)


def _lstm_time_backward(dseqs, caches, x, Wx, Wh):
    """_time_backward(_lstm_step_backward, ...) likewise: only dh_{t-1} = dA_t Wh^T feeds the
    step before, so only it runs inside the loop; dx_t = dA_t Wx^T and the weights'
    gradients need no other step's result and run once, over all N*T rows, afterwards."""
    (dhs, dcs), (h0, c0, hs, cs, gates) = dseqs, caches
    steps = x.shape[1]
    dA = [None] * steps
    dh, dc = np.zeros_like(h0), np.zeros_like(c0)  # nothing comes back from after step T
    for t in reversed(range(steps)):
        c_prev = cs[:, t - 1] if t > 0 else c0
        # the state at t: its gradient from the output at t plus the one from step t + 1
        dA[t], dc = _lstm_cell_backward(dhs[:, t] + dh, dcs[:, t] + dc, c_prev, *gates[t])
        dh = dA[t] @ Wh.T
    dA = _rows(np.stack(dA, axis=1))  # [N*T, 4H], in the order of _rows(x)
    h_prev = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)  # the h each step started from
    # the same weights at every step: their gradient sums the steps' x_t^T dA_t, and that
    # sum is one product of the stacked rows
    dx = (dA @ Wx.T).reshape(x.shape)
    return dx, [dh, dc], [_rows(x).T @ dA, _rows(h_prev).T @ dA, dA.sum(axis=0)]


# ---- whole sequences, functional: what the parity engine compares ----------------------

def rnn(x, h0, Wx, Wh, b, *, alpha=1.0):
    validate_rnn(x, h0, Wx, Wh, b, alpha=alpha)
    (hs,), _ = _time_forward(_rnn_step, x, [h0], (Wx, Wh, b, alpha))
    return hs


def rnn_backward(dy, x, h0, Wx, Wh, b, *, alpha=1.0):
    """dy [N, T, H]: the cotangent of hs."""
    validate_rnn(x, h0, Wx, Wh, b, alpha=alpha)
    _, caches = _time_forward(_rnn_step, x, [h0], (Wx, Wh, b, alpha))
    dx, (dh0,), (dWx, dWh, db) = _time_backward(_rnn_step_backward, [dy], caches, x, Wx, Wh)
    return dx, dh0, dWx, dWh, db


def lstm(x, h0, c0, Wx, Wh, b):
    validate_lstm(x, h0, c0, Wx, Wh, b)
    (hs, cs), _ = _lstm_time_forward(x, [h0, c0], (Wx, Wh, b))
    return np.stack([hs, cs])


def lstm_backward(dy, x, h0, c0, Wx, Wh, b):
    """dy [2, N, T, H] = (dhs, dcs): the cotangents of the hidden AND the cell states."""
    validate_lstm(x, h0, c0, Wx, Wh, b)
    _, caches = _lstm_time_forward(x, [h0, c0], (Wx, Wh, b))
    dx, (dh0, dc0), (dWx, dWh, db) = _lstm_time_backward(list(dy), caches, x, Wx, Wh)
    return dx, dh0, dc0, dWx, dWh, db


def gru(x, h0, Wx, Wh, bx, bh):
    validate_gru(x, h0, Wx, Wh, bx, bh)
    (hs,), _ = _time_forward(_gru_step, x, [h0], (Wx, Wh, bx, bh))
    return hs


def gru_backward(dy, x, h0, Wx, Wh, bx, bh):
    """dy [N, T, H]: the cotangent of hs."""
    validate_gru(x, h0, Wx, Wh, bx, bh)
    _, caches = _time_forward(_gru_step, x, [h0], (Wx, Wh, bx, bh))
    dx, (dh0,), (dWx, dWh, dbx, dbh) = _time_backward(_gru_step_backward, [dy], caches, x, Wx, Wh)
    return dx, dh0, dWx, dWh, dbx, dbh


# ---- the book's layer classes ----------------------------------------------------------

class _TimeLayer:
    """The book's Time layers: the parameters, the last forward's caches, and, when
    stateful, the final state of one call as the initial state of the next (truncated
    BPTT: long data cut into blocks, the state flows on, the gradient stops at the cut)."""
    step = step_backward = None
    n_states = 1  # h; the LSTM also carries c

    def __init__(self, params, *, stateful=False):
        self.params, self.stateful = params, stateful
        self.grads, self.state, self.dh = {}, None, None

    def _step_params(self):
        return tuple(self.params.values())

    def reset_state(self):
        self.state = None

    # the time loops, the same as the functions': TimeLSTM has its own
    def _forward_loop(self, xs):
        return _time_forward(self.step, xs, self.state, self._step_params())

    def _backward_loop(self, dseqs):
        return _time_backward(self.step_backward, dseqs, self._caches, self._xs, self.params["Wx"], self.params["Wh"])

    def forward(self, xs):
        if self.state is None or not self.stateful:
            zeros = np.zeros((xs.shape[0], self.params["Wh"].shape[0]), dtype=xs.dtype)
            self.state = [zeros] * self.n_states
        seqs, self._caches = self._forward_loop(xs)
        self.state, self._xs = [s[:, -1] for s in seqs], xs
        return seqs[0]

    def backward(self, dhs):
        # only hs leaves the layer: the LSTM's cell states get no gradient from outside
        dseqs = [dhs] + [np.zeros_like(dhs)] * (self.n_states - 1)
        dxs, dstates, dparams = self._backward_loop(dseqs)
        self.dh = dstates[0]  # the gradient of the initial h: seq2seq passes it to the encoder
        self.grads = dict(zip(self.params, dparams))
        return dxs


class TimeRNN(_TimeLayer):
    step, step_backward = staticmethod(_rnn_step), staticmethod(_rnn_step_backward)

    def __init__(self, Wx, Wh, b, *, alpha=1.0, stateful=False):
        super().__init__({"Wx": Wx, "Wh": Wh, "b": b}, stateful=stateful)
        self.alpha = alpha

    def _step_params(self):
        return (*self.params.values(), self.alpha)


class TimeLSTM(_TimeLayer):
    n_states = 2

    def __init__(self, Wx, Wh, b, *, stateful=False):
        super().__init__({"Wx": Wx, "Wh": Wh, "b": b}, stateful=stateful)

    def _forward_loop(self, xs):
        return _lstm_time_forward(xs, self.state, self._step_params())

    def _backward_loop(self, dseqs):
        return _lstm_time_backward(dseqs, self._caches, self._xs, self.params["Wx"], self.params["Wh"])


class TimeGRU(_TimeLayer):
    step, step_backward = staticmethod(_gru_step), staticmethod(_gru_step_backward)

    def __init__(self, Wx, Wh, bx, bh, *, stateful=False):
        super().__init__({"Wx": Wx, "Wh": Wh, "bx": bx, "bh": bh}, stateful=stateful)


# ---- the output-recurrence network (Goodfellow et al. 10.2.1): recurrence through o ------

def _output_rnn_step(x_t, o_prev, Wx, Wo, b, V, c):
    """o_t from x_t [N, D] and the output fed back, o_{t-1} [N, K] (or the true y_{t-1})."""
    h = np.tanh(x_t @ Wx + o_prev @ Wo + b)
    return h @ V + c, (x_t, o_prev, h)


def _output_rnn_step_backward(do, cache, Wx, Wo, V):
    """do: everything that reaches o_t. Returns (dx_t, do_prev, dWx, dWo, db, dV, dc)."""
    x_t, o_prev, h = cache
    da = (do @ V.T) * (1 - h ** 2)  # through the read-out, then tanh' = 1 - tanh^2
    return da @ Wx.T, da @ Wo.T, x_t.T @ da, o_prev.T @ da, da.sum(axis=0), h.T @ do, do.sum(axis=0)


def _output_rnn_forward(x, o0, params, teacher):
    o, os, caches = o0, [], []
    for t in range(x.shape[1]):
        # teacher forcing feeds the true previous output: no step needs another's result
        fed = teacher[:, t - 1] if teacher is not None and t > 0 else o
        o, cache = _output_rnn_step(x[:, t], fed, *params)
        os.append(o)
        caches.append(cache)
    return np.stack(os, axis=1), caches


def output_rnn(x, o0, Wx, Wo, b, V, c, *, teacher=None):
    validate_output_rnn(x, o0, Wx, Wo, b, V, c, teacher=teacher)
    os, _ = _output_rnn_forward(x, o0, (Wx, Wo, b, V, c), teacher)
    return os


def output_rnn_backward(dy, x, o0, Wx, Wo, b, V, c, *, teacher=None):
    """dy [N, T, K]: the cotangent of os. Free-running, o_t reaches the loss through its own
    dy_t and through step t + 1, and those ADD (BPTT, as rnn_backward). Teacher-forced,
    step t + 1 was fed y_t, a constant: o_t gets dy_t alone, and each step's gradient is
    its own (o0 still feeds step 1). teacher gets no gradient: it is data."""
    validate_output_rnn(x, o0, Wx, Wo, b, V, c, teacher=teacher)
    _, caches = _output_rnn_forward(x, o0, (Wx, Wo, b, V, c), teacher)
    dx = np.empty_like(x)
    dweights = [np.zeros_like(w) for w in (Wx, Wo, b, V, c)]
    do_prev = np.zeros_like(o0)  # nothing comes back from after step T
    for t in reversed(range(x.shape[1])):
        do = dy[:, t] + (do_prev if teacher is None else 0)
        dx[:, t], do_prev, *grads = _output_rnn_step_backward(do, caches[t], Wx, Wo, V)
        for total, g in zip(dweights, grads):  # the same weights at every step: the steps' sum
            total += g
    # do_prev is now what step 1 sends back to what it was fed: o0, with or without a teacher
    return (dx, do_prev, *dweights)
