"""lstm: the long short-term memory layer over a whole sequence: hidden AND cell states,
and their backward through time."""
import numpy as np

from shared import layouts, lazy
from shared.concepts import _rnn
from shared.concepts._rnn import validate_lstm as validate  # noqa: F401  (the packages call spec.validate)
from shared.spec import Case, Concept, ErrorCase, Hint, Oracle, PortingCase, Side


# ---- porting: torch's two biases; torch's time-first default ---------------------------

def _two_biases(rng):
    inputs = _rnn.make_inputs("lstm", 2, 5, 3, 4)(rng)
    b = inputs.pop("b")
    return {**inputs, "b_ih": b, "b_hh": 0.5 * rng.standard_normal(b.shape)}


def _torch_two_biases(x, h0, c0, Wx, Wh, b_ih, b_hh):
    module = _rnn.torch_layer("lstm", x, int(Wh.shape[0]))
    return _rnn.torch_call(module, (Wx.T, Wh.T, b_ih, b_hh), x, (h0[None], c0[None]))[0]


def _keras_bias(bias):
    def run(x, h0, c0, Wx, Wh, b_ih, b_hh):
        layer = _rnn.keras_layer("lstm", x, [Wx.numpy(), Wh.numpy(), bias(b_ih, b_hh).numpy()])
        return layer(x, initial_state=[h0, c0])[0]
    return run


def _torch_time_first(batch_first):
    def run(x, h0, c0, Wx, Wh, b):
        # from zero states, as such ports usually start: h0 would need T as its batch
        module = lazy.torch().nn.LSTM(int(x.shape[2]), int(Wh.shape[0]), batch_first=batch_first, dtype=x.dtype)
        return _rnn.torch_call(module, layouts.rnn_to_torch(Wx, Wh, b), x)[0]
    return run


def _square_batch(rng):
    # N = T, so the wrong layout runs without a shape error, as it does in real code
    return _rnn.make_inputs("lstm", 4, 4, 3, 5)(rng)


def _keras_lstm_from_zero(x, h0, c0, Wx, Wh, b):
    layer = _rnn.keras_layer("lstm", x, layouts.rnn_to_keras(Wx.numpy(), Wh.numpy(), b.numpy()))
    return layer(x)[0]


CONCEPT = Concept(
    name="lstm",
    module="rnn",
    family="rnn_teacher_forcing",
    lesson=2,
    hints=(Hint("forward", "check the gate order: the blocks of Wx, Wh and b are i, f, g, o (the book slices f, g, i, o)"),),
    math="[a_i a_f a_g a_o] = x_t Wx + h_{t-1} Wh + b;  c_t = sigma(a_f) c_{t-1} + sigma(a_i) tanh(a_g);  "
         "h_t = sigma(a_o) tanh(c_t);  returns stack(hs, cs)",
    japanese="LSTM（長短期記憶）：入力ゲート・忘却ゲート・出力ゲートと記憶セル",
    signature="lstm(x, h0, c0, Wx, Wh, b) -> [2, N, T, H] = (hs, cs); Wx [D, 4H], Wh [H, 4H], b [4H], gate "
              "blocks (i, f, g, o) as torch and Keras (the book slices f, g, i, o: layouts.book_lstm_to_canonical)",
    layer=_rnn.time_layer("lstm"),
    book_layer="TimeLSTM",
    differentiable=("x", "h0", "c0", "Wx", "Wh", "b"),
    cases=(
        Case("small", _rnn.make_inputs("lstm", 2, 5, 3, 4), seed=511, golden=_rnn.python_loop("lstm")),
        Case("one-step", _rnn.make_inputs("lstm", 3, 1, 2, 3), seed=512, golden=_rnn.python_loop("lstm")),
        Case("long-24", _rnn.make_inputs("lstm", 3, 24, 4, 6), seed=513,
             note="24 steps: the cell state carries the gradient through f * ..., not through tanh'"),
        Case("saturated", _rnn.make_inputs("lstm", 2, 6, 3, 4, scale=4.0), seed=514,
             note="gates near 0 and 1"),
    ),
    error_cases=(
        ErrorCase("gru-weights", _rnn.bad_inputs("lstm", Wh=np.ones((5, 15))), ValueError,
                  r"lstm: Wh must have shape \(5, 20\) \(\[H, 4\*H\]\), got shape \(5, 15\)"),
        ErrorCase("c0-shape", _rnn.bad_inputs("lstm", c0=np.ones((2, 4))), ValueError,
                  r"lstm: c0 must have shape \(2, 5\) \(\[N, H\] with N = 2 from x and H = 5 from Wh\)"),
        ErrorCase("bias-shape", _rnn.bad_inputs("lstm", b=np.ones(5)), ValueError,
                  r"lstm: b must have shape \(20,\) \(4\*H = 20\)"),
    ),
    overrides=_rnn.saturated_overrides() + _rnn.long_overrides("long-24"),
    oracles=(
        Oracle("torch", "torch.nn.LSTM(batch_first=True) via layouts.rnn_to_torch (c per step: one step a call)",
               _rnn.torch_lstm),
        Oracle("tf", "keras.layers.LSTM(return_state=True) via layouts.rnn_to_keras", _rnn.keras_lstm,
               differentiable=False),
    ),
    porting=(
        PortingCase(
            "lstm-two-biases-summed",
            "torch's nn.LSTM has bias_ih AND bias_hh, added in every gate; Keras' LSTM has one bias. Porting "
            "torch weights with bias = bias_ih alone drops bias_hh. Fix: bias = bias_ih + bias_hh "
            "(layouts.rnn_from_torch).",
            _two_biases,
            reference=Side("torch", "nn.LSTM(D, H, batch_first=True) with bias_ih, bias_hh", _torch_two_biases),
            naive=Side("tf", "keras.layers.LSTM(H).set_weights([W_ih.T, W_hh.T, b_ih])",
                       _keras_bias(lambda b_ih, b_hh: b_ih)),
            fixed=Side("tf", "keras.layers.LSTM(H).set_weights([W_ih.T, W_hh.T, b_ih + b_hh])",
                       _keras_bias(lambda b_ih, b_hh: b_ih + b_hh)),
            seed=515, source="torch.nn.LSTM docs; keras LSTMCell; PORTING_FACTS: RNN / LSTM / GRU"),
        PortingCase(
            "lstm-batch-first-default",
            "torch's nn.LSTM reads [T, N, D] unless batch_first=True; Keras reads [N, T, D]. A [N, T, D] batch "
            "fed to nn.LSTM(D, H) runs without error when N = T, and mixes the sequences. Fix: "
            "nn.LSTM(D, H, batch_first=True).",
            _square_batch,
            reference=Side("tf", "keras.layers.LSTM(H, return_sequences=True)(x)", _keras_lstm_from_zero),
            naive=Side("torch", "nn.LSTM(D, H)(x)", _torch_time_first(False)),
            fixed=Side("torch", "nn.LSTM(D, H, batch_first=True)(x)", _torch_time_first(True)),
            seed=516, source="torch.nn.LSTM docs (batch_first=False); keras.layers.LSTM docs"),
    ),
)
