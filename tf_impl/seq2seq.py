"""The book's seq2seq (ゼロから作る 2, ch. 7) in TensorFlow: the same step-by-step model
as numpy_impl.seq2seq, written with tf_impl.rnn's cells; GradientTape gives the
gradients (through both networks: one BPTT), tf_impl.optimizers the step."""
import tensorflow as tf

from shared.concepts import _seq2seq
from shared.concepts import seq2seq_decode as decode_spec
from shared.concepts import seq2seq_train_step as spec
from tf_impl import optimizers, rnn
from tf_impl.losses import softmax_with_loss


def _step(cell, x_t, state, p):
    if cell == "lstm":
        return rnn.lstm_step(x_t, *state, p["Wx"], p["Wh"], p["b"])
    return (rnn.gru_step(x_t, state[0], p["Wx"], p["Wh"], p["bx"], p["bh"]),)


def _initial(cell, h, zeros):
    return (h, zeros) if cell == "lstm" else (h,)  # an LSTM's cell state starts at 0


def forward(params, x, y_in, coins, cell):
    enc, dec = _seq2seq.layer_params(params, "enc", cell), _seq2seq.layer_params(params, "dec", cell)
    zeros = tf.zeros((x.shape[0], params["W"].shape[0]), dtype=params["W"].dtype)
    state = _initial(cell, zeros, zeros)
    for t in range(x.shape[1]):
        state = _step(cell, tf.gather(params["enc_embed"], x[:, t]), state, enc)
    state, token, logits = _initial(cell, state[0], zeros), y_in[:, 0], []
    for t in range(y_in.shape[1]):
        if t > 0:  # the truth where the coin says so (teacher forcing), else our own guess
            token = tf.where(coins[:, t], y_in[:, t], tf.argmax(logits[-1], axis=1, output_type=y_in.dtype))
        state = _step(cell, tf.gather(params["dec_embed"], token), state, dec)
        logits.append(state[0] @ params["W"] + params["b"])
    return tf.stack(logits, axis=1)


def loss(params, batch, hyper):
    y = batch["y"]
    logits = forward(params, batch["x"], y[:, :-1], batch["coins"], hyper["cell"])
    # TimeSoftmaxWithLoss: every (sequence, step) is one example of the mean
    return softmax_with_loss(tf.reshape(logits, (-1, logits.shape[2])), tf.reshape(y[:, 1:], (-1,)))


def decode(params, x, y_in, coins, *, cell):
    decode_spec.validate(params, x, y_in, coins, cell=cell)
    logits = forward(params, x, y_in, coins, cell)
    return logits, tf.argmax(logits, axis=2)


def train_step(params, opt_state, batch, hyper):
    spec.validate(params, opt_state, batch, hyper)
    with tf.GradientTape() as tape:
        tape.watch(list(params.values()))
        loss_value = loss(params, batch, hyper)
    # the embeddings' gradients come back as IndexedSlices (only the rows used): made dense
    grads = {name: tf.convert_to_tensor(g) for name, g in zip(params, tape.gradient(loss_value, list(params.values())))}
    clipped = grads
    if hyper["max_norm"] is not None:
        clipped, _ = optimizers.clip_by_global_norm(grads, max_norm=hyper["max_norm"])
    step = getattr(optimizers, hyper["optimizer"])
    new_params, new_opt_state = {}, {}
    for name, grad in clipped.items():
        new_params[name], new_opt_state[name] = step(params[name], grad, opt_state[name], **hyper["opt"])
    return loss_value, grads, new_params, new_opt_state
