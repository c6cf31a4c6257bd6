"""gru: the gated recurrent unit over a whole sequence, in the "reset after" form of torch
and Keras' default (reset_after=True), and its backward through time."""
import numpy as np

from shared import layouts
from shared.concepts import _rnn
from shared.concepts._rnn import validate_gru as validate  # noqa: F401  (the packages call spec.validate)
from shared.spec import Case, Concept, ErrorCase, Oracle, PortingCase, Side


# ---- porting: Keras' gate order; reset_after=False -----------------------------------------

def _porting_inputs(rng):
    return _rnn.make_inputs("gru", 2, 5, 3, 4)(rng)


def _keras_gru(weights, **options):
    def run(x, h0, Wx, Wh, bx, bh):
        layer = _rnn.keras_layer("gru", x, [np.asarray(w) for w in weights(Wx, Wh, bx, bh)], **options)
        return layer(x, initial_state=[h0])[0]
    return run


def _torch_order_as_keras(Wx, Wh, bx, bh):
    # torch's (r, z, n) blocks copied as they are into Keras' (z, r, h) slots
    return [Wx, Wh, np.stack([bx, bh])]


def _converted(Wx, Wh, bx, bh):
    return layouts.gru_to_keras(Wx.numpy(), Wh.numpy(), bx.numpy(), bh.numpy())


def _one_bias(Wx, Wh, bx, bh):
    # reset_after=False has one bias: the best a port can do is to add the two
    kernel, recurrent, bias = _converted(Wx, Wh, bx, bh)
    return [kernel, recurrent, bias[0] + bias[1]]


CONCEPT = Concept(
    name="gru",
    module="rnn",
    family="rnn_teacher_forcing",
    lesson=3,
    math="r = sigma(x_t Wx_r + bx_r + h Wh_r + bh_r);  z = sigma(x_t Wx_z + bx_z + h Wh_z + bh_z);  "
         "n = tanh(x_t Wx_n + bx_n + r * (h Wh_n + bh_n));  h_t = (1 - z) n + z h_{t-1}",
    japanese="GRU（ゲート付き回帰型ユニット）：リセットゲートと更新ゲート",
    signature="gru(x, h0, Wx, Wh, bx, bh) -> hs [N, T, H]; Wx [D, 3H], Wh [H, 3H], bx, bh [3H], gate blocks "
              "(r, z, n) as torch (Keras: (z, r, h), layouts.gru_to_keras)",
    layer=_rnn.time_layer("gru"),
    book_layer="TimeGRU",
    differentiable=("x", "h0", "Wx", "Wh", "bx", "bh"),
    cases=(
        Case("small", _rnn.make_inputs("gru", 2, 5, 3, 4), seed=521, golden=_rnn.python_loop("gru")),
        Case("one-step", _rnn.make_inputs("gru", 3, 1, 2, 3), seed=522, golden=_rnn.python_loop("gru")),
        Case("long-24", _rnn.make_inputs("gru", 3, 24, 4, 6), seed=523),
        Case("saturated", _rnn.make_inputs("gru", 2, 6, 3, 4, scale=4.0), seed=524),
    ),
    error_cases=(
        ErrorCase("keras-bias", _rnn.bad_inputs("gru", bx=np.ones((2, 15))), ValueError,
                  r"gru: bx must have shape \(15,\) \(3\*H = 15\), got shape \(2, 15\)"),
        ErrorCase("lstm-weights", _rnn.bad_inputs("gru", Wx=np.ones((4, 20))), ValueError,
                  r"gru: Wx must have shape \(4, 15\)"),
    ),
    overrides=_rnn.saturated_overrides() + _rnn.long_overrides("long-24"),
    oracles=(
        Oracle("torch", "torch.nn.GRU(batch_first=True) via layouts.gru_to_torch", _rnn.torch_gru),
        Oracle("tf", "keras.layers.GRU(reset_after=True) via layouts.gru_to_keras", _rnn.keras_gru,
               differentiable=False),
    ),
    porting=(
        PortingCase(
            "gru-gate-order",
            "torch's GRU stacks its gate blocks (r, z, n), Keras' (z, r, h): weights copied block for block "
            "swap the reset and update gates. Fix: layouts.gru_to_keras swaps the first two blocks of the "
            "kernel, the recurrent kernel and both bias rows.",
            _porting_inputs,
            reference=Side("torch", "nn.GRU(D, H, batch_first=True)", _rnn.torch_gru),
            naive=Side("tf", "keras.layers.GRU(H).set_weights([W_ih.T, W_hh.T, stack([b_ih, b_hh])])",
                       _keras_gru(lambda *w: _torch_order_as_keras(*(a.numpy() for a in w)))),
            fixed=Side("tf", "keras.layers.GRU(H).set_weights(layouts.gru_to_keras(Wx, Wh, bx, bh))",
                       _keras_gru(_converted)),
            seed=525, source="keras GRUCell (z, r, h); torch.nn.GRU docs (r, z, n); keras#8720"),
        PortingCase(
            "gru-reset-after-false",
            "Keras GRU(reset_after=False) (TF1's default, and CuDNN-incompatible) applies the reset gate "
            "BEFORE the recurrent product, n = tanh(x Wx_n + (r * h) Wh_n + b_n), with one bias; torch's "
            "GRU computes r * (h Wh_n + bh_n). No weights make the two agree: this is what is left with "
            "the best conversion (gates reordered, the two biases added). Fix: reset_after=True.",
            _porting_inputs,
            reference=Side("torch", "nn.GRU(D, H, batch_first=True)", _rnn.torch_gru),
            naive=Side("tf", "keras.layers.GRU(H, reset_after=False), bias = b_ih + b_hh",
                       _keras_gru(_one_bias, reset_after=False)),
            fixed=Side("tf", "keras.layers.GRU(H, reset_after=True).set_weights(layouts.gru_to_keras(...))",
                       _keras_gru(_converted)),
            seed=526, source="keras GRU reset_after docs; keras#8720, keras#15915"),
    ),
)
