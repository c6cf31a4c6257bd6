"""rnn: the simple (Elman) recurrent layer over a whole sequence, with leaky units as an
option; its backward is backpropagation through time (BPTT)."""
import numpy as np

from shared.concepts import _rnn
from shared.concepts._rnn import validate_rnn as validate  # noqa: F401  (the packages call spec.validate)
from shared.spec import Case, Concept, ErrorCase, Oracle


def _plain(case):
    return case.kwargs.get("alpha", 1.0) == 1.0  # the frameworks have no leaky unit


CONCEPT = Concept(
    name="rnn",
    module="rnn",
    family="rnn_teacher_forcing",
    lesson=1,
    math="h_t = (1 - alpha) h_{t-1} + alpha tanh(x_t Wx + h_{t-1} Wh + b),  hs = [h_1 .. h_T];  "
         "BPTT: dh_{t-1} = dh_t (1 - alpha) + (dh_t alpha (1 - tanh^2)) Wh^T, dW summed over t",
    japanese="再帰型ニューラルネットワーク（RNN）と通時的誤差逆伝播法（BPTT）、リーキーユニット",
    signature="rnn(x, h0, Wx, Wh, b, *, alpha=1.0) -> hs [N, T, H]; x [N, T, D] batch first, Wx [D, H], "
              "Wh [H, H], b [H] (see shared/concepts/_rnn.py)",
    layer=_rnn.time_layer("rnn"),
    book_layer="TimeRNN",
    differentiable=("x", "h0", "Wx", "Wh", "b"),
    cases=(
        Case("small", _rnn.make_inputs("rnn", 2, 5, 3, 4), seed=501, golden=_rnn.python_loop("rnn")),
        Case("leaky-0.3", _rnn.make_inputs("rnn", 2, 5, 3, 4), {"alpha": 0.3}, seed=502,
             golden=_rnn.python_loop("rnn", alpha=0.3),
             note="a leaky unit keeps 70% of the old state: gradients reach further back"),
        Case("one-step", _rnn.make_inputs("rnn", 3, 1, 2, 3), seed=503, golden=_rnn.python_loop("rnn")),
        Case("long-32", _rnn.make_inputs("rnn", 3, 32, 4, 8), seed=504,
             note="32 steps of BPTT: the gradient of h0 has passed 32 tanh' factors"),
        Case("saturated", _rnn.make_inputs("rnn", 2, 6, 3, 4, scale=4.0), seed=505,
             note="large pre-activations: tanh' ~ 0, the vanishing gradient"),
    ),
    error_cases=(
        ErrorCase("x-rank", _rnn.bad_inputs("rnn", x=np.ones((2, 4))), ValueError,
                  r"rnn: x must have rank 3 \[N, T, D\]"),
        ErrorCase("wx-features", _rnn.bad_inputs("rnn", Wx=np.ones((3, 5))), ValueError,
                  r"rnn: Wx must have shape \(4, 5\) \(\[D, H = 5\] with D = 4 from x\), got shape \(3, 5\)"),
        ErrorCase("h0-batch", _rnn.bad_inputs("rnn", h0=np.ones((3, 5))), ValueError,
                  r"rnn: h0 must have shape \(2, 5\) \(\[N, H\] with N = 2 from x and H = 5 from Wh\)"),
        ErrorCase("alpha-zero", _rnn.bad_inputs("rnn"), ValueError, r"rnn: alpha must be in \(0, 1\]", {"alpha": 0.0}),
        ErrorCase("integer-x", _rnn.bad_inputs("rnn", x=np.ones((2, 3, 4), dtype=np.int64)), TypeError,
                  r"rnn: x must be a floating-point array"),
    ),
    overrides=_rnn.saturated_overrides() + _rnn.long_overrides("long-32"),
    oracles=(
        Oracle("torch", "torch.nn.RNN(batch_first=True) via layouts.rnn_to_torch", _rnn.torch_rnn, applies=_plain),
        Oracle("tf", "keras.layers.SimpleRNN via layouts.rnn_to_keras", _rnn.keras_rnn, applies=_plain,
               differentiable=False),
    ),
)
