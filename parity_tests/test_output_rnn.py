"""The output-recurrence network's facts that the generic parity run does not state: teacher
forcing decouples the steps (the forward is T independent one-step calls, the gradient needs
no BPTT), it agrees with free-running when the teacher is the network's own output, and the
"saturated" float32 tolerance still covers its derivation."""
import numpy as np
import pytest

from numpy_impl import rnn
from parity_tests.conftest import param
from shared import backends, parity
from shared.concepts import get
from shared.tolerances import F32_EPS

CONCEPT = get("output_rnn")
WEIGHTS = ("Wx", "Wo", "b", "V", "c")


def _inputs(case):
    return parity.upcast(CONCEPT.case(case).inputs())


def _fed(inputs):
    """What teacher forcing feeds step t: o0 at step 1, then the true y_{t-1}."""
    return np.concatenate([inputs["o0"][:, None], inputs["teacher"][:, :-1]], axis=1)


@pytest.mark.parametrize("backend", [param(b, id=b, backend=b) for b in ["numpy", "torch", "tf"]])
def test_teaching_the_network_its_own_outputs_changes_nothing_forward(backend):
    inputs = _inputs("free-running")
    run = backends.get(backend)
    free = run.call(run.impl(CONCEPT).forward, inputs, {}, "cpu")
    taught = run.call(run.impl(CONCEPT).forward, {**inputs, "teacher": free}, {}, "cpu")
    # the same operations on the same numbers, in the same order: equal to the last bit
    np.testing.assert_array_equal(taught, free)


def test_but_its_gradient_drops_the_path_through_time():
    inputs = _inputs("free-running")
    os = rnn.output_rnn(**inputs)
    dy = np.random.default_rng(1).standard_normal(os.shape)
    free = dict(zip(CONCEPT.differentiable, rnn.output_rnn_backward(dy, **inputs)))
    taught = dict(zip(CONCEPT.differentiable, rnn.output_rnn_backward(dy, **inputs, teacher=os)))
    # the last step sends nothing on through time: its dx is the same either way
    np.testing.assert_allclose(taught["x"][:, -1], free["x"][:, -1], rtol=1e-14)
    for name in ("x", "o0", *WEIGHTS):
        assert not np.allclose(taught[name], free[name]), f"{name}: free-running BPTT adds to it"


def test_teacher_forced_steps_are_independent_one_step_networks():
    inputs = _inputs("teacher-forced")
    weights = {k: inputs[k] for k in WEIGHTS}
    x, fed = inputs["x"], _fed(inputs)
    os = rnn.output_rnn(**inputs)
    dy = np.random.default_rng(2).standard_normal(os.shape)
    grads = rnn.output_rnn_backward(dy, **inputs)
    steps = [rnn.output_rnn(x[:, t:t + 1], fed[:, t], **weights) for t in range(x.shape[1])]
    np.testing.assert_array_equal(np.concatenate(steps, axis=1), os)
    step_grads = [rnn.output_rnn_backward(dy[:, t:t + 1], x[:, t:t + 1], fed[:, t], **weights)
                  for t in range(x.shape[1])]
    np.testing.assert_allclose(np.concatenate([g[0] for g in step_grads], axis=1), grads[0], rtol=1e-14)
    np.testing.assert_allclose(step_grads[0][1], grads[1], rtol=1e-14)  # o0 feeds step 1 only
    for k in range(2, 7):  # the shared weights: the sum of the steps' own gradients, no BPTT
        np.testing.assert_allclose(sum(g[k] for g in step_grads), grads[k], rtol=1e-12, atol=1e-14)


def _bptt(inputs, dy, slope_shift):
    """A float64 BPTT of free-running output_rnn with tanh' at step t shifted by
    slope_shift[t] [N, H]: the gradients, and every step's do_t [T, N, K]."""
    x, o0, Wx, Wo, b, V, c = (inputs[k] for k in ("x", "o0", *WEIGHTS))
    o, steps = o0, []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + o @ Wo + b)
        steps.append((x[:, t], o, h, 1 - h ** 2 + slope_shift[t]))
        o = h @ V + c
    grads = [np.zeros_like(x), None] + [np.zeros_like(w) for w in (Wx, Wo, b, V, c)]
    do_prev, dos = np.zeros_like(o0), [None] * x.shape[1]
    for t in reversed(range(x.shape[1])):
        x_t, o_prev, h, slope = steps[t]
        do = dos[t] = dy[:, t] + do_prev
        da = (do @ V.T) * slope
        grads[0][:, t], do_prev = da @ Wx.T, da @ Wo.T
        for total, g in zip(grads[2:], (x_t.T @ da, o_prev.T @ da, da.sum(axis=0), h.T @ do, do.sum(axis=0))):
            total += g
    grads[1] = do_prev
    return grads, np.array(dos)


def test_the_saturated_float32_tolerance_covers_its_derivation():
    case = CONCEPT.case("saturated")
    ref = parity.reference(CONCEPT, case, "float32")
    inputs, dy = parity.upcast(ref.inputs), ref.cotangent
    n, t = inputs["x"].shape[:2]
    hidden = inputs["V"].shape[0]
    zero = np.zeros((t, n, hidden))
    base, do = _bptt(inputs, dy, zero)
    for want, got in zip(ref.grads.values(), base):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)  # the same BPTT as numpy_impl
    # the gradients are affine in each unit's tanh': one unit shifted by 1 gives |d grad / d tanh'|
    tanh_bound = [np.zeros_like(g) for g in base]
    for unit in np.ndindex(zero.shape):
        shifted = zero.copy()
        shifted[unit] = 1.0
        for bound, g, g0 in zip(tanh_bound, _bptt(inputs, dy, shifted)[0], base):
            bound += 5.5e-7 * np.abs(g - g0)
    worst_tanh = max(float(b.max()) for b in tanh_bound)
    # dc = sum over the N*T steps of do_t: float32 rounding <= (N*T - 1) eps32 sum |do_t|
    worst_sum = (n * t - 1) * F32_EPS * float(np.abs(do).sum(axis=(0, 1)).max())
    atol = parity.tolerance(CONCEPT, "saturated", "grad", "float32", "cpu", "tf").atol
    assert 3e-5 < worst_tanh < 3.5e-5 and 1.4e-5 < worst_sum < 1.6e-5, (worst_tanh, worst_sum)
    assert worst_tanh + worst_sum <= atol

