"""The book's seq2seq (ゼロから作る 2, ch. 7), forward and backward by hand: an encoder
LSTM/GRU reads the question, its last hidden state starts the decoder, and the decoder
predicts the answer one token at a time (shared/concepts/_seq2seq.py).

Backward runs in the reverse order of the forward: the loss back to every decoder step
(each step's output AND the state it hands to the next step), through the decoder's
first state into the encoder's last, and back through the encoder: one BPTT across the
two networks. The tokens fed by argmax (free running) are choices: no gradient.
"""
import numpy as np

from numpy_impl import optimizers, rnn
from numpy_impl.losses import softmax_with_loss, softmax_with_loss_backward
from shared.concepts import _seq2seq
from shared.concepts import seq2seq_decode as decode_spec
from shared.concepts import seq2seq_train_step as spec


def _step(cell, x_t, state, p):
    if cell == "lstm":
        h, c, cache = rnn._lstm_step(x_t, *state, p["Wx"], p["Wh"], p["b"])
        return (h, c), cache
    h, cache = rnn._gru_step(x_t, state[0], p["Wx"], p["Wh"], p["bx"], p["bh"])
    return (h,), cache


def _step_backward(cell, dstate, cache, p):
    """(dx_t, the gradient of the previous state, this step's weight gradients)."""
    if cell == "lstm":
        dx, dh, dc, dWx, dWh, db = rnn._lstm_step_backward(*dstate, cache, p["Wx"], p["Wh"])
        return dx, (dh, dc), {"Wx": dWx, "Wh": dWh, "b": db}
    dx, dh, dWx, dWh, dbx, dbh = rnn._gru_step_backward(dstate[0], cache, p["Wx"], p["Wh"])
    return dx, (dh,), {"Wx": dWx, "Wh": dWh, "bx": dbx, "bh": dbh}


def _initial(cell, h, zeros):
    return (h, zeros) if cell == "lstm" else (h,)  # an LSTM's cell state starts at 0


def _forward(params, x, y_in, coins, cell):
    """Logits [N, Ty, V] and what backward needs."""
    enc, dec = _seq2seq.layer_params(params, "enc", cell), _seq2seq.layer_params(params, "dec", cell)
    zeros = np.zeros((x.shape[0], params["W"].shape[0]), dtype=params["W"].dtype)
    state, enc_caches = _initial(cell, zeros, zeros), []
    for t in range(x.shape[1]):
        state, cache = _step(cell, params["enc_embed"][x[:, t]], state, enc)
        enc_caches.append(cache)

    state, token = _initial(cell, state[0], zeros), y_in[:, 0]
    dec_caches, tokens, hs, logits = [], [], [], []
    for t in range(y_in.shape[1]):
        if t > 0:  # the truth where the coin says so (teacher forcing), else our own guess
            token = np.where(coins[:, t], y_in[:, t], logits[-1].argmax(axis=1))
        state, cache = _step(cell, params["dec_embed"][token], state, dec)
        dec_caches.append(cache)
        tokens.append(token)
        hs.append(state[0])
        logits.append(state[0] @ params["W"] + params["b"])
    return np.stack(logits, axis=1), (enc_caches, dec_caches, tokens, hs)


def _flat_loss(logits, targets):
    # TimeSoftmaxWithLoss: every (sequence, step) is one example of the mean
    return softmax_with_loss(logits.reshape(-1, logits.shape[2]), targets.reshape(-1))


def loss(params, batch, hyper):
    y = batch["y"]
    logits, _ = _forward(params, batch["x"], y[:, :-1], batch["coins"], hyper["cell"])
    return _flat_loss(logits, y[:, 1:])


def _gradients(params, batch, hyper):
    cell, x, y = hyper["cell"], batch["x"], batch["y"]
    logits, (enc_caches, dec_caches, tokens, hs) = _forward(params, x, y[:, :-1], batch["coins"], cell)
    n, ty, vocab = logits.shape
    loss_value = _flat_loss(logits, y[:, 1:])
    dlogits = softmax_with_loss_backward(1.0, logits.reshape(-1, vocab), y[:, 1:].reshape(-1)).reshape(logits.shape)

    grads = {name: np.zeros_like(p) for name, p in params.items()}
    grads["W"] = sum(h.T @ dlogits[:, t] for t, h in enumerate(hs))
    grads["b"] = dlogits.sum(axis=(0, 1))
    dec = _seq2seq.layer_params(params, "dec", cell)
    dstate = _initial(cell, np.zeros_like(hs[0]), np.zeros_like(hs[0]))
    for t in reversed(range(ty)):
        # h_t feeds the logits at t AND the step t + 1
        dstate = (dstate[0] + dlogits[:, t] @ params["W"].T, *dstate[1:])
        dx, dstate, dp = _step_backward(cell, dstate, dec_caches[t], dec)
        for name, g in dp.items():
            grads[f"dec_{name}"] += g
        np.add.at(grads["dec_embed"], tokens[t], dx)  # a token used twice gets both gradients

    # the decoder's first h was the encoder's last; its zero cell state has no gradient
    enc = _seq2seq.layer_params(params, "enc", cell)
    dstate = _initial(cell, dstate[0], np.zeros_like(dstate[0]))
    for t in reversed(range(x.shape[1])):
        dx, dstate, dp = _step_backward(cell, dstate, enc_caches[t], enc)
        for name, g in dp.items():
            grads[f"enc_{name}"] += g
        np.add.at(grads["enc_embed"], x[:, t], dx)
    return loss_value, grads


def decode(params, x, y_in, coins, *, cell):
    decode_spec.validate(params, x, y_in, coins, cell=cell)
    logits, _ = _forward(params, x, y_in, coins, cell)
    return logits, logits.argmax(axis=2)


def train_step(params, opt_state, batch, hyper):
    spec.validate(params, opt_state, batch, hyper)
    loss_value, grads = _gradients(params, batch, hyper)
    clipped = grads
    if hyper["max_norm"] is not None:
        clipped, _ = optimizers.clip_by_global_norm(grads, max_norm=hyper["max_norm"])
    new_params, new_opt_state = optimizers.step_all(params, clipped, opt_state, hyper["optimizer"], hyper["opt"])
    return loss_value, grads, new_params, new_opt_state
