"""Recurrent layers (RNN, LSTM, GRU) as from-scratch time loops in torch's ops, mirroring
numpy_impl.rnn; autograd does the backpropagation through time. nn.RNN / nn.LSTM / nn.GRU
are the oracles these are checked against, so they are not used here.

The loop is plain Python: each step is a few tensor ops, and autograd records all T of
them, so backward walks the steps in reverse and sums the shared weights' gradients,
exactly what numpy_impl.rnn writes out by hand. Layout and gate orders: shared/concepts/_rnn.py.
"""
import torch

from shared.concepts._rnn import validate_gru, validate_lstm, validate_output_rnn, validate_rnn


# ---- one step each: the seq2seq decoder calls these directly ---------------------------

def rnn_step(x_t, h, Wx, Wh, b, alpha=1.0):
    """h_t from x_t [N, D] and h_{t-1} [N, H]; alpha < 1 is a leaky unit."""
    # the leaky path (1 - alpha) h skips the tanh: its gradient does not vanish with tanh'
    return (1 - alpha) * h + alpha * torch.tanh(x_t @ Wx + h @ Wh + b)


def lstm_step(x_t, h, c, Wx, Wh, b):
    """(h_t, c_t) from x_t, h_{t-1}, c_{t-1}."""
    i, f, g, o = (x_t @ Wx + h @ Wh + b).chunk(4, dim=1)  # one matmul, then the gate blocks (i, f, g, o)
    # c_{t-1} reaches c_t through the forget gate alone, no squashing: the LSTM's highway
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def gru_step(x_t, h, Wx, Wh, bx, bh):
    """h_t from x_t and h_{t-1}."""
    xr, xz, xn = (x_t @ Wx + bx).chunk(3, dim=1)
    hr, hz, hn = (h @ Wh + bh).chunk(3, dim=1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)  # "reset after": r scales h Wh_n + bh_n, so bh_n is separate
    return (1 - z) * n + z * h


# ---- whole sequences: the Time layers --------------------------------------------------

def rnn(x, h0, Wx, Wh, b, *, alpha=1.0):
    """hs [N, T, H]: the hidden state after every step of x [N, T, D]."""
    validate_rnn(x, h0, Wx, Wh, b, alpha=alpha)
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = rnn_step(x[:, t], h, Wx, Wh, b, alpha)
        hs.append(h)
    # stacked from a list, not written into a preallocated tensor: autograd would have
    # to track T in-place writes into one buffer
    return torch.stack(hs, dim=1)


def lstm(x, h0, c0, Wx, Wh, b):
    """[2, N, T, H]: the hidden states hs and the cell states cs after every step."""
    validate_lstm(x, h0, c0, Wx, Wh, b)
    h, c, hs, cs = h0, c0, [], []
    for t in range(x.shape[1]):
        h, c = lstm_step(x[:, t], h, c, Wx, Wh, b)
        hs.append(h)
        cs.append(c)
    return torch.stack([torch.stack(hs, dim=1), torch.stack(cs, dim=1)])


def gru(x, h0, Wx, Wh, bx, bh):
    """hs [N, T, H]: the hidden state after every step of x [N, T, D]."""
    validate_gru(x, h0, Wx, Wh, bx, bh)
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = gru_step(x[:, t], h, Wx, Wh, bx, bh)
        hs.append(h)
    return torch.stack(hs, dim=1)


# ---- the output-recurrence network (Goodfellow et al. 10.2.1): recurrence through o ------

def output_rnn(x, o0, Wx, Wo, b, V, c, *, teacher=None):
    """os [N, T, K]: o_t = tanh(x_t Wx + o_{t-1} Wo + b) V + c, o_{t-1} replaced by the true
    y_{t-1} = teacher[:, t-1] when a teacher is given."""
    validate_output_rnn(x, o0, Wx, Wo, b, V, c, teacher=teacher)
    o, os = o0, []
    for t in range(x.shape[1]):
        # teacher forcing: teacher is a constant for autograd, so no gradient crosses the steps
        fed = teacher[:, t - 1] if teacher is not None and t > 0 else o
        o = torch.tanh(x[:, t] @ Wx + fed @ Wo + b) @ V + c
        os.append(o)
    return torch.stack(os, dim=1)
