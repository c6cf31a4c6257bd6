"""output_rnn: the network whose recurrence runs through its output (Goodfellow et al.,
Deep Learning 10.2.1, Fig. 10.4), and teacher forcing (Fig. 10.6).

h_{t-1} never reaches step t: only the K numbers of o_{t-1} do, and o must also fit the
targets, so the network can carry forward only what the targets say, and it is less
powerful than the hidden-to-hidden RNN. What it buys: fed the TRUE y_{t-1} instead of its
own o_{t-1} (teacher forcing), step t needs no other step's result, so the T steps of
training run in parallel and the gradient needs no BPTT. At test time the true outputs are
unknown and the network runs free, on its own outputs (the cases "free-running").
"""
import numpy as np

from shared.concepts import _rnn
from shared.concepts._rnn import validate_output_rnn as validate  # noqa: F401  (the packages call spec.validate)
from shared.spec import Case, Concept, ErrorCase, Oracle, Override, Tolerance

# "saturated", float32: tanh' is computed as 1 - y^2 from the float32 y = tanh(a), and where
# |a| > 5 y lies within a few ulp (6e-8 each) of +-1, so tanh' (true value 1e-9 .. 1e-4)
# carries an ABSOLUTE error of ~1e-7, and up to 5.5e-7 in TF, whose float32 tanh returns
# exactly +-1 for |a| >= 7.905 (where 1 - tanh^2 = 5.5e-7). The table assumes relative
# errors of a few ulp. Each unit's error reaches a gradient entry times |do V^T| and the
# weights between (Wx, Wo, x, o_{t-1}, and through Wo the earlier steps); the first-order
# worst case, sum over units of |d grad / d tanh'| * 5.5e-7 on this case's inputs, is 3.4e-5
# (dc). dc also sums N*T = 12 do_t that cancel, from sum |do_t| = 11.5 to 0.059: float32
# rounding of that sum <= 11 eps32 * 11.5 = 1.5e-5. Together 4.9e-5, recomputed by
# parity_tests/test_output_rnn.py. Measured worst: 4.5e-6 (TF's dc: 1.8e-6 of it comes with
# TF's tanh alone, in float64 arithmetic).
SATURATED_TANH_F32 = Tolerance(5e-5, 1e-5, "float32 tanh' = 1 - y^2 with |y| within a few ulp of 1: absolute "
                               "error <= 5.5e-7 per unit, first-order worst case 3.4e-5; + 1.5e-5 for dc's "
                               "cancelling sum of 12 steps")

CONCEPT = Concept(
    name="output_rnn",
    module="rnn",
    family="rnn_teacher_forcing",
    lesson=4,
    math="h_t = tanh(x_t Wx + o_{t-1} Wo + b),  o_t = h_t V + c,  os = [o_1 .. o_T];  teacher forcing: "
         "o_{t-1} := y_{t-1} (the true output, teacher[:, t-1]) for t > 1, so the steps decouple and "
         "do_t = dy_t alone; free-running BPTT: do_{t-1} = dy_{t-1} + (do_t V^T * (1 - h_t^2)) Wo^T",
    japanese="出力回帰のあるネットワーク（出力から隠れ層への再帰）と教師強制（teacher forcing）",
    signature="output_rnn(x, o0, Wx, Wo, b, V, c, *, teacher=None) -> os [N, T, K]; x [N, T, D] batch first, "
              "o0 [N, K], Wx [D, H], Wo [K, H], b [H], V [H, K], c [K]; teacher [N, T, K] the true outputs "
              "(data: no gradient; its last step is never fed back) (see shared/concepts/_rnn.py)",
    differentiable=("x", "o0", "Wx", "Wo", "b", "V", "c"),
    cases=(
        Case("free-running", _rnn.make_output_inputs(2, 5, 3, 4, 2), seed=561, golden=_rnn.output_python_loop,
             note="each step is fed the previous step's own output: test time, and BPTT through o"),
        Case("teacher-forced", _rnn.make_output_inputs(2, 5, 3, 4, 2, teacher=True), seed=562,
             golden=_rnn.output_python_loop,
             note="each step is fed the true previous output: training; the steps' gradients are separate"),
        Case("one-step", _rnn.make_output_inputs(3, 1, 2, 3, 2), seed=563, golden=_rnn.output_python_loop),
        Case("long-24", _rnn.make_output_inputs(3, 24, 4, 6, 3), seed=564,
             note="24 steps: the gradient of o0 has passed 24 read-outs V, tanh' and Wo"),
        Case("long-24-teacher", _rnn.make_output_inputs(3, 24, 4, 6, 3, teacher=True), seed=565,
             note="24 steps teacher-forced: o0 gets the gradient of step 1 alone"),
        Case("saturated", _rnn.make_output_inputs(2, 6, 3, 4, 2, scale=4.0), seed=566,
             note="large pre-activations: tanh' ~ 0, the vanishing gradient"),
    ),
    error_cases=(
        ErrorCase("teacher-shape", _rnn.bad_output_inputs(teacher=np.ones((2, 2, 3))), ValueError,
                  r"output_rnn: teacher must have shape \(2, 3, 3\) \(\[N, T, K\], the outputs' shape: N = 2, "
                  r"T = 3 from x, K = 3 from V\), got shape \(2, 2, 3\)"),
        ErrorCase("wo-hidden-square", _rnn.bad_output_inputs(Wo=np.ones((5, 5))), ValueError,
                  r"output_rnn: Wo must have shape \(3, 5\) \(\[K, H\] with K = 3 and H = 5 from V\), "
                  r"got shape \(5, 5\)"),
        ErrorCase("o0-as-h0", _rnn.bad_output_inputs(o0=np.ones((2, 5))), ValueError,
                  r"output_rnn: o0 must have shape \(2, 3\) \(\[N, K\] with N = 2 from x and K = 3 from V\)"),
        ErrorCase("x-rank", _rnn.bad_output_inputs(x=np.ones((2, 4))), ValueError,
                  r"output_rnn: x must have rank 3 \[N, T, D\]"),
        ErrorCase("integer-x", _rnn.bad_output_inputs(x=np.ones((2, 3, 4), dtype=np.int64)), TypeError,
                  r"output_rnn: x must be a floating-point array"),
        ErrorCase("integer-teacher", _rnn.bad_output_inputs(teacher=np.ones((2, 3, 3), dtype=np.int64)),
                  TypeError, r"output_rnn: teacher must be a floating-point array"),
    ),
    overrides=tuple(Override(kind, SATURATED_TANH_F32, case="saturated", dtype="float32")
                    for kind in ("grad", "builtin")),
    oracles=(
        Oracle("torch", "torch.nn.RNNCell(tanh) on cat(x_t, o_{t-1}), W_hh = 0, then torch.nn.Linear; "
               "teacher-forced: all N*T steps as one batch", _rnn.torch_output_rnn),
        Oracle("tf", "keras.layers.SimpleRNNCell on concat(x_t, o_{t-1}), recurrent kernel 0, then keras.layers.Dense",
               _rnn.keras_output_rnn, differentiable=False),
    ),
)
