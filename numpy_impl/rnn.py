"""Recurrent layers 再帰型ニューラルネットワーク (RNN, LSTM, GRU) over a whole sequence, and
their backward by hand: backpropagation through time (BPTT, 通時的誤差逆伝播法), as in
ゼロから作る 2's TimeRNN / TimeLSTM.

Forward runs the step T times and keeps each step's cache; backward walks the steps in
reverse, carrying dh (and the LSTM's dc) from step t to step t - 1, and ADDS every
step's weight gradients: the same Wx, Wh, b are used at every step, so their gradient
is the sum over steps. Shapes and gate layouts: shared/concepts/_rnn.py.
"""
import numpy as np

from shared.concepts._rnn import validate_gru, validate_lstm, validate_rnn


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


# ---- one step each, forward and backward ----------------------------------------------

def rnn_step(x_t, h_prev, Wx, Wh, b, alpha=1.0):
    y = np.tanh(x_t @ Wx + h_prev @ Wh + b)
    h = (1 - alpha) * h_prev + alpha * y
    return h, (x_t, h_prev, y, alpha)


def rnn_step_backward(dh, cache, Wx, Wh):
    x_t, h_prev, y, alpha = cache
    da = dh * alpha * (1 - y ** 2)  # tanh' = 1 - tanh^2
    # the leaky path (1 - alpha) h_prev carries dh straight back, past the tanh
    return da @ Wx.T, dh * (1 - alpha) + da @ Wh.T, x_t.T @ da, h_prev.T @ da, da.sum(axis=0)


def lstm_step(x_t, h_prev, c_prev, Wx, Wh, b):
    A = x_t @ Wx + h_prev @ Wh + b
    i, f, g, o = np.split(A, 4, axis=1)  # gate blocks (i, f, g, o)
    i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    return o * tanh_c, c, (x_t, h_prev, c_prev, i, f, g, o, tanh_c)


def lstm_step_backward(dh, dc, cache, Wx, Wh):
    """dh, dc: what reaches h_t and c_t (from the output AND from step t + 1)."""
    x_t, h_prev, c_prev, i, f, g, o, tanh_c = cache
    dc = dc + dh * o * (1 - tanh_c ** 2)
    do = dh * tanh_c
    di, df, dg = dc * g, dc * c_prev, dc * i
    # back through the gates' nonlinearities: sigma' = s (1 - s), tanh' = 1 - t^2
    dA = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g ** 2), do * o * (1 - o)], axis=1)
    # the cell state reaches c_{t-1} through the forget gate alone: the LSTM's highway
    return dA @ Wx.T, dA @ Wh.T, dc * f, x_t.T @ dA, h_prev.T @ dA, dA.sum(axis=0)


def gru_step(x_t, h_prev, Wx, Wh, bx, bh):
    xr, xz, xn = np.split(x_t @ Wx + bx, 3, axis=1)
    hr, hz, hn = np.split(h_prev @ Wh + bh, 3, axis=1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)  # "reset after": r scales h Wh_n + bh_n
    return (1 - z) * n + z * h_prev, (x_t, h_prev, r, z, n, hn)


def gru_step_backward(dh, cache, Wx, Wh):
    x_t, h_prev, r, z, n, hn = cache
    dn = dh * (1 - z)
    dz = dh * (h_prev - n)
    dan = dn * (1 - n ** 2)
    dr = dan * hn
    dar, daz = dr * r * (1 - r), dz * z * (1 - z)
    dAx = np.concatenate([dar, daz, dan], axis=1)
    dAh = np.concatenate([dar, daz, dan * r], axis=1)  # h's candidate part went through r
    dx = dAx @ Wx.T
    dh_prev = dh * z + dAh @ Wh.T
    return dx, dh_prev, x_t.T @ dAx, h_prev.T @ dAh, dAx.sum(axis=0), dAh.sum(axis=0)


# ---- whole sequences: the Time layers --------------------------------------------------

def rnn(x, h0, Wx, Wh, b, *, alpha=1.0):
    validate_rnn(x, h0, Wx, Wh, b, alpha=alpha)
    return _rnn_forward(x, h0, Wx, Wh, b, alpha)[0]


def _rnn_forward(x, h0, Wx, Wh, b, alpha):
    h, hs, caches = h0, [], []
    for t in range(x.shape[1]):
        h, cache = rnn_step(x[:, t], h, Wx, Wh, b, alpha)
        hs.append(h)
        caches.append(cache)
    return np.stack(hs, axis=1), caches


def rnn_backward(dy, x, h0, Wx, Wh, b, *, alpha=1.0):
    validate_rnn(x, h0, Wx, Wh, b, alpha=alpha)
    _, caches = _rnn_forward(x, h0, Wx, Wh, b, alpha)
    dx, dWx, dWh, db = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh = np.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        # h_t feeds the output at t AND the step t + 1: both gradients add
        dx[:, t], dh, dWx_t, dWh_t, db_t = rnn_step_backward(dy[:, t] + dh, caches[t], Wx, Wh)
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dh, dWx, dWh, db


def lstm(x, h0, c0, Wx, Wh, b):
    validate_lstm(x, h0, c0, Wx, Wh, b)
    hs, cs, _ = _lstm_forward(x, h0, c0, Wx, Wh, b)
    return np.stack([hs, cs])


def _lstm_forward(x, h0, c0, Wx, Wh, b):
    h, c, hs, cs, caches = h0, c0, [], [], []
    for t in range(x.shape[1]):
        h, c, cache = lstm_step(x[:, t], h, c, Wx, Wh, b)
        hs.append(h)
        cs.append(c)
        caches.append(cache)
    return np.stack(hs, axis=1), np.stack(cs, axis=1), caches


def lstm_backward(dy, x, h0, c0, Wx, Wh, b):
    """dy [2, N, T, H]: the cotangents of (hs, cs)."""
    validate_lstm(x, h0, c0, Wx, Wh, b)
    _, _, caches = _lstm_forward(x, h0, c0, Wx, Wh, b)
    dhs, dcs = dy
    dx, dWx, dWh, db = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh, dc = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(x.shape[1])):
        dx[:, t], dh, dc, dWx_t, dWh_t, db_t = lstm_step_backward(dhs[:, t] + dh, dcs[:, t] + dc, caches[t], Wx, Wh)
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dh, dc, dWx, dWh, db


def gru(x, h0, Wx, Wh, bx, bh):
    validate_gru(x, h0, Wx, Wh, bx, bh)
    return _gru_forward(x, h0, Wx, Wh, bx, bh)[0]


def _gru_forward(x, h0, Wx, Wh, bx, bh):
    h, hs, caches = h0, [], []
    for t in range(x.shape[1]):
        h, cache = gru_step(x[:, t], h, Wx, Wh, bx, bh)
        hs.append(h)
        caches.append(cache)
    return np.stack(hs, axis=1), caches


def gru_backward(dy, x, h0, Wx, Wh, bx, bh):
    validate_gru(x, h0, Wx, Wh, bx, bh)
    _, caches = _gru_forward(x, h0, Wx, Wh, bx, bh)
    dx, dWx, dWh = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh)
    dbx, dbh, dh = np.zeros_like(bx), np.zeros_like(bh), np.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        dx[:, t], dh, dWx_t, dWh_t, dbx_t, dbh_t = gru_step_backward(dy[:, t] + dh, caches[t], Wx, Wh)
        dWx += dWx_t
        dWh += dWh_t
        dbx += dbx_t
        dbh += dbh_t
    return dx, dh, dWx, dWh, dbx, dbh
