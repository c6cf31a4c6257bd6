"""Recurrent layers (RNN, LSTM, GRU) as from-scratch time loops in TensorFlow's ops; GradientTape
does the backpropagation through time. Keras' SimpleRNN / LSTM / GRU are the
oracles (shared/concepts/_rnn.py): the same math, written out here step by step."""
import tensorflow as tf

from shared.concepts._rnn import validate_gru, validate_lstm, validate_rnn


def rnn_step(x_t, h, Wx, Wh, b, alpha=1.0):
    return (1 - alpha) * h + alpha * tf.tanh(x_t @ Wx + h @ Wh + b)


def lstm_step(x_t, h, c, Wx, Wh, b):
    i, f, g, o = tf.split(x_t @ Wx + h @ Wh + b, 4, axis=1)  # gate blocks (i, f, g, o)
    c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
    return tf.sigmoid(o) * tf.tanh(c), c


def gru_step(x_t, h, Wx, Wh, bx, bh):
    xr, xz, xn = tf.split(x_t @ Wx + bx, 3, axis=1)
    hr, hz, hn = tf.split(h @ Wh + bh, 3, axis=1)
    r, z = tf.sigmoid(xr + hr), tf.sigmoid(xz + hz)
    n = tf.tanh(xn + r * hn)  # "reset after": r scales h Wh_n + bh_n
    return (1 - z) * n + z * h


def rnn(x, h0, Wx, Wh, b, *, alpha=1.0):
    validate_rnn(x, h0, Wx, Wh, b, alpha=alpha)
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = rnn_step(x[:, t], h, Wx, Wh, b, alpha)
        hs.append(h)
    return tf.stack(hs, axis=1)


def lstm(x, h0, c0, Wx, Wh, b):
    validate_lstm(x, h0, c0, Wx, Wh, b)
    h, c, hs, cs = h0, c0, [], []
    for t in range(x.shape[1]):
        h, c = lstm_step(x[:, t], h, c, Wx, Wh, b)
        hs.append(h)
        cs.append(c)
    return tf.stack([tf.stack(hs, axis=1), tf.stack(cs, axis=1)])


def gru(x, h0, Wx, Wh, bx, bh):
    validate_gru(x, h0, Wx, Wh, bx, bh)
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = gru_step(x[:, t], h, Wx, Wh, bx, bh)
        hs.append(h)
    return tf.stack(hs, axis=1)
