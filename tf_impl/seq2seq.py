"""The book's seq2seq (ゼロから作る 2, ch. 7) as a tf.Module built from Keras' own layers
(Embedding, LSTM / GRU, LSTMCell / GRUCell, Dense), loaded from and saved to the
canonical parameter dict (shared/concepts/_seq2seq.py) with shared.layouts;
GradientTape gives the gradients, tf_impl.optimizers the clipping and the step."""
import functools

import tensorflow as tf

from shared import layouts, lazy
from shared.concepts import seq2seq_decode as decode_spec
from shared.concepts import seq2seq_train_step as spec
from shared.concepts._seq2seq import bias_names
from tf_impl import optimizers
from tf_impl.losses import softmax_with_loss

keras = lazy.keras()

# Every weight is overwritten from the canonical dict: zero initializers skip random draws
# (and the recurrent kernel's orthogonal QR) whose results would be thrown away.
NO_DRAW = {"kernel_initializer": "zeros", "recurrent_initializer": "zeros"}
SIDES = (("enc", "encoder"), ("dec", "decoder"))  # canonical prefix, Keras layer


class Seq2seq(tf.Module):
    def __init__(self, cell, vocab, embed, hidden, dtype):
        super().__init__()
        self.cell = cell
        L = keras.layers
        layer, step = (L.LSTM, L.LSTMCell) if cell == "lstm" else (L.GRU, L.GRUCell)
        # reset_after=True is the canonical (torch) GRU: n = tanh(x Wx_n + bx_n + r * (h Wh_n + bh_n));
        # Keras' reset_after=False has one bias and no canonical form
        options = {"dtype": dtype, **NO_DRAW, **({"reset_after": True} if cell == "gru" else {})}
        self.layers = {
            "enc_embed": L.Embedding(vocab, embed, embeddings_initializer="zeros", dtype=dtype),
            "encoder": layer(hidden, return_state=True, **options),
            "dec_embed": L.Embedding(vocab, embed, embeddings_initializer="zeros", dtype=dtype),
            # a cell, not a layer: at step t the input may be the argmax of step t - 1's
            # logits, unknown until that step has run
            "decoder": step(hidden, **options),
            "out": L.Dense(vocab, kernel_initializer="zeros", dtype=dtype),
        }
        shapes = {"enc_embed": (None,), "encoder": (None, None, embed), "dec_embed": (None,),
                  "decoder": (None, embed), "out": (None, hidden)}
        for name, shape in shapes.items():
            self.layers[name].build(shape)

    def __call__(self, x, y_in, coins):
        """Logits [N, Ty, V]; coins[:, t] True feeds y_in[:, t], False the previous argmax."""
        L = self.layers
        _, h, *_ = L["encoder"](L["enc_embed"](x))  # (outputs, h_T) or (outputs, h_T, c_T)
        # only h_T crosses over; the book's Decoder starts its cell state at zero
        state = [h, tf.zeros_like(h)] if self.cell == "lstm" else [h]
        logits, token = [], y_in[:, 0]
        for t in range(y_in.shape[1]):
            if t > 0:
                # argmax is a choice, not a function of the weights: no gradient flows through it
                guess = tf.cast(_first_argmax(logits[-1]), y_in.dtype)
                token = tf.where(coins[:, t], y_in[:, t], guess)
            h, state = L["decoder"](L["dec_embed"](token), state)
            logits.append(L["out"](h))
        return tf.stack(logits, axis=1)

    @classmethod
    def from_canonical(cls, params, cell):
        """The model for these parameters' sizes, loaded with them. Built once per size
        (Keras layers cost more to build than a training step costs to run) and reloaded
        every call, so it holds nothing from an earlier call."""
        vocab, embed = params["enc_embed"].shape
        model = _built(cls, cell, vocab, embed, params["W"].shape[0], params["W"].dtype.name)
        model.load(params, cell)
        return model

    def load(self, params, cell):
        """Embedding keeps [V, E] and Dense keeps W [H, V]: the canonical arrays as they
        are. The recurrent weights go through the shared converters (the GRU's gate
        blocks change order, its two biases become one [2, 3H] array). assign, not
        set_weights: it also works inside a tf.function."""
        to_keras = layouts.gru_to_keras if cell == "gru" else layouts.rnn_to_keras
        weights = {"out": [params["W"], params["b"]]}
        for side, recurrent in SIDES:
            weights[f"{side}_embed"] = [params[f"{side}_embed"]]
            weights[recurrent] = to_keras(*(params[f"{side}_{n}"] for n in ("Wx", "Wh", *bias_names(cell))))
        for name, values in weights.items():
            for variable, value in zip(self.layers[name].weights, values, strict=True):
                variable.assign(value)

    def variables_by_layer(self):
        return {name: layer.trainable_weights for name, layer in self.layers.items()}

    def _canonical(self, by_layer):
        """{layer name: its weights in Keras' order} -> the canonical dict. Parameters and
        gradients alike: every conversion is a permutation, and the gradient of a
        permuted variable is the permuted gradient."""
        from_keras = layouts.gru_from_keras if self.cell == "gru" else layouts.rnn_from_keras
        out = {}
        for side, recurrent in SIDES:
            (out[f"{side}_embed"],) = by_layer[f"{side}_embed"]
            names = [f"{side}_{n}" for n in ("Wx", "Wh", *bias_names(self.cell))]
            out.update(zip(names, from_keras(*by_layer[recurrent])))
        out["W"], out["b"] = by_layer["out"]
        return out

    def to_canonical(self):
        return self._canonical(tf.nest.map_structure(tf.convert_to_tensor, self.variables_by_layer()))

    def canonical_grads(self, grads):
        """tape.gradient's answer for variables_by_layer() -> canonical gradients."""
        # an Embedding's gradient is IndexedSlices (only the rows looked up): made dense
        return self._canonical(tf.nest.map_structure(tf.convert_to_tensor, grads))


def _first_argmax(logits):
    """The index of the largest logit on the last axis, the LOWEST one on ties, as NumPy's
    and torch's argmax: tf.argmax does not promise which tie it returns."""
    is_max = tf.equal(logits, tf.reduce_max(logits, axis=-1, keepdims=True))
    positions = tf.range(logits.shape[-1], dtype=tf.int64)
    return tf.reduce_min(tf.where(is_max, positions, logits.shape[-1]), axis=-1)


@functools.lru_cache(maxsize=8)
def _built(cls, cell, vocab, embed, hidden, dtype):
    return cls(cell, vocab, embed, hidden, dtype)


def decode(params, x, y_in, coins, *, cell):
    decode_spec.validate(params, x, y_in, coins, cell=cell)
    logits = Seq2seq.from_canonical(params, cell)(x, y_in, coins)
    return logits, _first_argmax(logits)


def _loss(model, batch, hyper):
    """Mean cross-entropy over N and T; `model` may also be a canonical params dict."""
    if isinstance(model, dict):
        model = Seq2seq.from_canonical(model, hyper["cell"])
    y = batch["y"]
    logits = model(batch["x"], y[:, :-1], batch["coins"])
    # TimeSoftmaxWithLoss is one softmax-with-loss over all N * T positions
    return softmax_with_loss(tf.reshape(logits, (-1, logits.shape[2])), tf.reshape(y[:, 1:], (-1,)))


def _model(params, batch, hyper):
    """The framework's model holding the canonical `params`, set up for training."""
    return Seq2seq.from_canonical(params, hyper["cell"])


def loss(params, batch, hyper):
    """The training loss of the canonical `params`, forward only: the same function as
    numpy_impl's (the framework's model built from them, then its loss)."""
    return _loss(_model(params, batch, hyper), batch, hyper)


def train_step(params, opt_state, batch, hyper):
    spec.validate(params, opt_state, batch, hyper)
    model = _model(params, batch, hyper)
    variables = model.variables_by_layer()
    with tf.GradientTape() as tape:
        loss_value = _loss(model, batch, hyper)
    grads = model.canonical_grads(tape.gradient(loss_value, variables))
    clipped = grads
    if hyper["max_norm"] is not None:
        clipped, _ = optimizers.clip_by_global_norm(grads, max_norm=hyper["max_norm"])
    new_params, new_opt_state = optimizers.step_all(params, clipped, opt_state, hyper["optimizer"], hyper["opt"])
    # the contract's grads are the unclipped ones: the numeric check compares them with the loss
    return loss_value, grads, new_params, new_opt_state
