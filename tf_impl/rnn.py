"""Recurrent layers (RNN, LSTM, GRU) as from-scratch time loops in TensorFlow's ops,
mirroring numpy_impl.rnn; GradientTape does the backpropagation through time. Keras'
SimpleRNN / LSTM / GRU are the oracles these are checked against, so they are not used here.

The loop is plain eager Python, the steps gathered in a list and stacked: clear, and fast
enough for the short sequences here (T <= 64). Under tf.function a long loop would rather
be a tf.while_loop writing into a tf.TensorArray, as Keras does. Layout and gate orders:
shared/concepts/_rnn.py.
"""
import tensorflow as tf

from shared.concepts._rnn import validate_gru, validate_lstm, validate_output_rnn, validate_rnn


# ---- one step each: the seq2seq decoder calls these directly ---------------------------

def rnn_step(x_t, h, Wx, Wh, b, alpha=1.0):
    """h_t from x_t [N, D] and h_{t-1} [N, H]; alpha < 1 is a leaky unit."""
    # the leaky path (1 - alpha) h skips the tanh: its gradient does not vanish with tanh'
    return (1 - alpha) * h + alpha * tf.tanh(x_t @ Wx + h @ Wh + b)


def lstm_step(x_t, h, c, Wx, Wh, b):
    """(h_t, c_t) from x_t, h_{t-1}, c_{t-1}."""
    i, f, g, o = tf.split(x_t @ Wx + h @ Wh + b, 4, axis=1)  # one matmul, then the gate blocks (i, f, g, o)
    # c_{t-1} reaches c_t through the forget gate alone, no squashing: the LSTM's highway
    c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
    return tf.sigmoid(o) * tf.tanh(c), c


def gru_step(x_t, h, Wx, Wh, bx, bh):
    """h_t from x_t and h_{t-1}."""
    xr, xz, xn = tf.split(x_t @ Wx + bx, 3, axis=1)
    hr, hz, hn = tf.split(h @ Wh + bh, 3, axis=1)
    r, z = tf.sigmoid(xr + hr), tf.sigmoid(xz + hz)
    n = tf.tanh(xn + r * hn)  # "reset after": r scales h Wh_n + bh_n, so bh_n is separate
    return (1 - z) * n + z * h


# ---- whole sequences: the Time layers --------------------------------------------------

def rnn(x, h0, Wx, Wh, b, *, alpha=1.0):
    """hs [N, T, H]: the hidden state after every step of x [N, T, D]."""
    validate_rnn(x, h0, Wx, Wh, b, alpha=alpha)
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = rnn_step(x[:, t], h, Wx, Wh, b, alpha)
        hs.append(h)
    return tf.stack(hs, axis=1)  # TF tensors are immutable: no hs[:, t] = h


def lstm(x, h0, c0, Wx, Wh, b):
    """[2, N, T, H]: the hidden states hs and the cell states cs after every step."""
    validate_lstm(x, h0, c0, Wx, Wh, b)
    h, c, hs, cs = h0, c0, [], []
    for t in range(x.shape[1]):
        h, c = lstm_step(x[:, t], h, c, Wx, Wh, b)
        hs.append(h)
        cs.append(c)
    return tf.stack([tf.stack(hs, axis=1), tf.stack(cs, axis=1)])


def gru(x, h0, Wx, Wh, bx, bh):
    """hs [N, T, H]: the hidden state after every step of x [N, T, D]."""
    validate_gru(x, h0, Wx, Wh, bx, bh)
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = gru_step(x[:, t], h, Wx, Wh, bx, bh)
        hs.append(h)
    return tf.stack(hs, axis=1)


# ---- the output-recurrence network (Goodfellow et al. 10.2.1): recurrence through o ------

def output_rnn(x, o0, Wx, Wo, b, V, c, *, teacher=None):
    """os [N, T, K]: o_t = tanh(x_t Wx + o_{t-1} Wo + b) V + c, o_{t-1} replaced by the true
    y_{t-1} = teacher[:, t-1] when a teacher is given."""
    validate_output_rnn(x, o0, Wx, Wo, b, V, c, teacher=teacher)
    o, os = o0, []
    for t in range(x.shape[1]):
        # teacher forcing: the tape does not watch teacher, so no gradient crosses the steps
        fed = teacher[:, t - 1] if teacher is not None and t > 0 else o
        o = tf.tanh(x[:, t] @ Wx + fed @ Wo + b) @ V + c
        os.append(o)
    return tf.stack(os, axis=1)
