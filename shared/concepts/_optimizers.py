"""What the optimizer specs share: the validator, the cases, the framework-optimizer
oracles (torch.optim, Keras) and the 100-step least-squares runs of the porting cases."""
from __future__ import annotations

import contextlib
import math
import numbers
from typing import Callable

import numpy as np

from shared import checks, lazy
from shared.spec import Case, ErrorCase


def validate(concept: str, param, grad, state, keys: tuple[str, ...], *, lr, squares: tuple[str, ...] = (),
             **decay_rates):
    """param, grad and each state array share one shape and dtype; the state arrays named
    in `squares` are sums or averages of squared gradients and may not be negative (their
    square root would be a silent NaN); `decay_rates` are the hyper-parameters that must
    lie in [0, 1) (momentum, betas, rho)."""
    checks.require_floats(concept, param=param, grad=grad)
    shape = checks.shape_of(param)
    checks.require_shape(concept, "grad", grad, shape, "param's shape")
    if not isinstance(state, dict) or set(state) != set(keys):
        got = tuple(state) if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{concept}: state must be a dict with keys {keys} "
                         f"(shared.concepts.{concept}.init_state gives the first one), got {got}")
    for key in keys:
        if key == "t":
            t = state["t"]
            if not isinstance(t, numbers.Integral) or isinstance(t, bool) or t < 0:
                raise TypeError(f"{concept}: state['t'] must be the number of steps taken (an int >= 0), got {t!r}")
            continue
        checks.require_float(concept, f"state['{key}']", state[key])
        checks.require_same_dtype(concept, param=param, **{f"state['{key}']": state[key]})
        checks.require_shape(concept, f"state['{key}']", state[key], shape, "param's shape")
        if key in squares:
            checks.require_nonnegative_values(concept, f"state['{key}']", state[key],
                                              "it accumulates squared gradients")
    checks.require_nonnegative(concept, "lr", lr)
    for name, value in decay_rates.items():
        checks.require_number_in(concept, name, value, 0.0, 1.0, hi_open=True)


# --- cases ------------------------------------------------------------------------------

def _first_step(init_state, hyper):
    def make(rng):
        param = rng.standard_normal((3, 4))
        return {"param": param, "grad": rng.standard_normal((3, 4)), "state": init_state(param, **hyper)}
    return make


def _mid_run(init_state, hyper, second_moments):
    """A state as it might be after 7 steps: first moments of either sign, second
    moments (sums or averages of squares, named in `second_moments`) positive."""
    def make(rng):
        param = rng.standard_normal(5)
        state = {}
        for key in init_state(param, **hyper):
            if key == "t":
                state[key] = 7
            elif key in second_moments:
                state[key] = rng.uniform(0.1, 2.0, param.shape)
            else:
                state[key] = 0.1 * rng.standard_normal(param.shape)
        return {"param": param, "grad": rng.standard_normal(5), "state": state}
    return make


def cases(init_state, update: Callable, variants: dict[str, dict], seed: int,
          second_moments: tuple[str, ...] = ()) -> tuple[Case, ...]:
    """A first step (from `init_state`) and a mid-run step for each variant of the
    hyper-parameters; every case has a golden value from `update`, the rule written for
    one scalar in Python floats (math.sqrt, ** for powers), independent of NumPy's arrays."""
    made = []
    for i, (name, kwargs) in enumerate(variants.items()):
        golden = elementwise(update, kwargs)
        made.append(Case(f"first-step-{name}", _first_step(init_state, kwargs), kwargs, seed=seed + 2 * i,
                         golden=golden))
        made.append(Case(f"mid-run-{name}", _mid_run(init_state, kwargs, second_moments), kwargs,
                         seed=seed + 2 * i + 1, golden=golden))
    return tuple(made)


def elementwise(update: Callable, kwargs: dict):
    def golden(inputs):
        param, grad, state = inputs["param"], inputs["grad"], inputs["state"]
        t = state.get("t")
        arrays = [k for k in state if k != "t"]
        new_param, new_state = np.empty_like(param), {k: np.empty_like(param) for k in arrays}
        for i in np.ndindex(param.shape):
            scalars = {k: float(state[k][i]) for k in arrays}
            p, s = update(float(param[i]), float(grad[i]), scalars, t, **kwargs)
            new_param[i] = p
            for k in arrays:
                new_state[k][i] = s[k]
        if t is not None:
            new_state["t"] = t + 1
        return new_param, new_state
    return golden


def error_cases(concept: str, init_state, bad_hyper: tuple[str, float] | None = None) -> tuple[ErrorCase, ...]:
    def inputs(**changes):
        param = np.ones((2, 3))
        made = {"param": param, "grad": np.ones((2, 3)), "state": init_state(param)}
        made.update(changes)
        return lambda: made

    errors = [
        ErrorCase("grad-shape", inputs(grad=np.ones(3)), ValueError,
                  rf"{concept}: grad must have shape \(2, 3\) \(param's shape\), got shape \(3,\)"),
        ErrorCase("state-not-a-dict", inputs(state=None), ValueError,
                  rf"{concept}: state must be a dict with keys"),
        ErrorCase("negative-lr", inputs(), ValueError, rf"{concept}: lr must be a number >= 0, got -0.1",
                  {"lr": -0.1}),
        ErrorCase("integer-param", inputs(param=np.ones((2, 3), dtype=np.int64)), TypeError,
                  rf"{concept}: param must be a floating-point array"),
    ]
    first = next((k for k in init_state(np.ones((2, 3))) if k != "t"), None)
    if first is not None:
        errors.append(ErrorCase(
            "state-shape", inputs(state={**init_state(np.ones((2, 3))), first: np.zeros(3)}), ValueError,
            rf"{concept}: state\['{first}'\] must have shape \(2, 3\) \(param's shape\)"))
    if bad_hyper is not None:
        name, value = bad_hyper
        errors.append(ErrorCase(f"{name}-out-of-range", inputs(), ValueError,
                                rf"{concept}: {name} must be a number in \[0.0, 1.0\), got {value}", {name: value}))
    return tuple(errors)


# --- the frameworks' own optimizers as oracles --------------------------------------------

def torch_optimizer(make: Callable, to_torch: Callable, from_torch: Callable):
    """An oracle that runs one step of torch.optim: `make([p], **hyper)` builds the
    optimizer, `to_torch(state)` / `from_torch(torch_state)` translate our state."""
    def run(param, grad, state, **hyper):
        p = param.detach().clone().requires_grad_(True)
        optimizer = make([p], **hyper)
        optimizer.state[p] = to_torch(state)
        p.grad = grad.clone()
        optimizer.step()
        return p.detach(), from_torch(optimizer.state[p])
    return run


@contextlib.contextmanager
def keras_floatx(dtype: str):
    """Keras 3 keeps an optimizer's learning rate in a variable of dtype floatx()
    (float32 by default): build float64 optimizers under floatx float64 so that lr is
    exact (porting case keras-optimizer-float64-learning-rate)."""
    keras = lazy.keras()
    saved = keras.config.floatx()
    keras.config.set_floatx(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(saved)


def keras_optimizer(make: Callable, slots: Callable, time_step: bool = False):
    """An oracle that runs one step of a Keras optimizer: `make(dtype, **hyper)` builds it,
    `slots(optimizer)` gives {our state key: its slot variable}; Keras counts steps in
    `optimizer.iterations`, which our `t` sets when `time_step`."""
    def run(param, grad, state, **hyper):
        tf = lazy.tf()
        variable = tf.Variable(param)
        with keras_floatx(param.dtype.name):
            optimizer = make(param.dtype.name, state, **hyper)
        optimizer.build([variable])
        for key, slot in slots(optimizer).items():
            slot.assign(state[key])
        if time_step:
            optimizer.iterations.assign(state["t"])
        optimizer.apply_gradients([(grad, variable)])
        new_state = {key: tf.convert_to_tensor(slot) for key, slot in slots(optimizer).items()}
        if time_step:
            new_state["t"] = int(optimizer.iterations.numpy())
        return tf.convert_to_tensor(variable), new_state
    return run


# --- 100 steps of least squares, for the porting cases ------------------------------------

STEPS = 100


def least_squares(gradient_scale: float = 1.0):
    """min_x 0.5 mean((A x - b)^2) from x0 ~ 1 away from the minimum; A's entries have
    variance `gradient_scale`, so the gradients are ~gradient_scale (a small one stands
    for a badly scaled loss, or the end of training)."""
    def make(rng):
        A = math.sqrt(gradient_scale) * rng.standard_normal((20, 5))
        x_star = rng.standard_normal(5)
        return {"A": A, "b": A @ x_star, "x0": x_star + rng.standard_normal(5)}
    return make


def torch_run(make: Callable, lr_drop_at: int | None = None):
    """x after STEPS steps of a torch.optim optimizer `make([x])`; at step `lr_drop_at`
    every group's lr is divided by 10."""
    def run(A, b, x0):
        x = x0.clone().requires_grad_(True)
        optimizer = make([x])
        for step in range(STEPS):
            if step == lr_drop_at:
                for group in optimizer.param_groups:
                    group["lr"] /= 10
            optimizer.zero_grad()
            loss = 0.5 * ((A @ x - b) ** 2).mean()
            loss.backward()
            optimizer.step()
        return x.detach()
    return run


def keras_run(make: Callable, lr_drop_at: int | None = None, on_drop: Callable | None = None,
              before_step: Callable | None = None, floatx: str | None = None):
    """x after STEPS steps of a Keras optimizer `make()`, built under
    keras.config.set_floatx(floatx) when given. At `lr_drop_at` the learning rate is
    divided by 10 and `on_drop(optimizer)` runs; `before_step(optimizer, t)` runs before
    step t = 1, 2, ..."""
    def run(A, b, x0):
        tf = lazy.tf()
        x = tf.Variable(x0)
        with keras_floatx(floatx) if floatx else contextlib.nullcontext():
            optimizer = make()
        for step in range(STEPS):
            if step == lr_drop_at:
                optimizer.learning_rate = optimizer.learning_rate / 10
                if on_drop is not None:
                    on_drop(optimizer)
            if before_step is not None:
                before_step(optimizer, step + 1)
            with tf.GradientTape() as tape:
                loss = 0.5 * tf.reduce_mean((tf.linalg.matvec(A, x) - b) ** 2)
            optimizer.apply_gradients([(tape.gradient(loss, x), x)])
        return tf.convert_to_tensor(x)
    return run


def numpy_run(step: Callable, init_state: Callable, **hyper):
    """x after STEPS steps of a NumPy step function `step(x, grad, state, **hyper)`."""
    def run(A, b, x0):
        x, state = x0, init_state(x0)
        for _ in range(STEPS):
            grad = A.T @ (A @ x - b) / len(b)
            x, state = step(x, grad, state, **hyper)
        return x
    return run
