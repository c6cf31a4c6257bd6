"""Recurrent layers (RNN, LSTM, GRU) as from-scratch time loops in torch's ops; autograd
does the backpropagation through time. torch's own nn.RNN / nn.LSTM / nn.GRU are the
oracles (shared/concepts/_rnn.py): the same math, written out here step by step."""
import torch

from shared.concepts._rnn import validate_gru, validate_lstm, validate_rnn


def rnn_step(x_t, h, Wx, Wh, b, alpha=1.0):
    return (1 - alpha) * h + alpha * torch.tanh(x_t @ Wx + h @ Wh + b)


def lstm_step(x_t, h, c, Wx, Wh, b):
    i, f, g, o = (x_t @ Wx + h @ Wh + b).chunk(4, dim=1)  # gate blocks (i, f, g, o)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def gru_step(x_t, h, Wx, Wh, bx, bh):
    xr, xz, xn = (x_t @ Wx + bx).chunk(3, dim=1)
    hr, hz, hn = (h @ Wh + bh).chunk(3, dim=1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)  # "reset after": r scales h Wh_n + bh_n
    return (1 - z) * n + z * h


def rnn(x, h0, Wx, Wh, b, *, alpha=1.0):
    validate_rnn(x, h0, Wx, Wh, b, alpha=alpha)
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = rnn_step(x[:, t], h, Wx, Wh, b, alpha)
        hs.append(h)
    return torch.stack(hs, dim=1)


def lstm(x, h0, c0, Wx, Wh, b):
    validate_lstm(x, h0, c0, Wx, Wh, b)
    h, c, hs, cs = h0, c0, [], []
    for t in range(x.shape[1]):
        h, c = lstm_step(x[:, t], h, c, Wx, Wh, b)
        hs.append(h)
        cs.append(c)
    return torch.stack([torch.stack(hs, dim=1), torch.stack(cs, dim=1)])


def gru(x, h0, Wx, Wh, bx, bh):
    validate_gru(x, h0, Wx, Wh, bx, bh)
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = gru_step(x[:, t], h, Wx, Wh, bx, bh)
        hs.append(h)
    return torch.stack(hs, dim=1)
