"""The training-step engine: one train_step, the same canonical parameters and the same
injected batches, k steps in every framework, compared with NumPy float64 after each step
the concept lists.

Records (check names):
  loss@k            the loss computed at step k (from the parameters after k - 1 steps);
                    a step with several losses returns a dict: loss@k:D, loss@k:G
  grad:<param>      every gradient of step 1
  param@k:<param>   every parameter after k steps, running statistics included
  state@k:<path>    the optimizer's state after k steps, e.g. state@10:W1.m
  numeric:<param>   (NumPy, float64) step 1's hand-written gradients vs central
                    differences of the module's `loss(params, batch, hyper)`: the
                    book's gradient_check, for the whole network; a concept with
                    `numeric_entries` n checks n entries of each array drawn at random
                    (BiT's 6,125 parameters would take ~45 s each time)
Parameters may be nested (a GAN's {"G": {...}, "D": {...}}): every name above is then a
dotted path, grad:G.W_fc. A step whose parameters follow different losses (the GAN's D
step, then its G step against the updated D) gives its NumPy module
`numeric_losses(params, batch, hyper) -> {path: (loss of that array, the array)}`
instead of one `loss`.
"""
from __future__ import annotations

import hashlib
import importlib
import numbers
import zlib
from typing import Any

import numpy as np

from shared import backends
from shared.backends import Impl
from shared.parity import (Record, Task, cast_inputs, central_differences, compare, compare_leaves,
                           failed_record, frozen, lazy_value, recorder, shared_reference, upcast)
from shared.trees import flatten, tree_map


def init_opt_state(params, optimizer: str, opt_hyper: dict, names=None) -> dict:
    """The optimizer's first state for each parameter in `names` (default: all), from the
    step's spec module (`shared.concepts.<optimizer>.init_state`)."""
    init_state = importlib.import_module(f"shared.concepts.{optimizer}").init_state
    return {name: init_state(np.asarray(params[name]), **opt_hyper) for name in (names or params)}


def validate_step_state(concept: str, params, opt_state, hyper, trained=None) -> str:
    """What a train step carries from step to step, checked before any layer runs: every
    parameter (at any depth: a GAN's {"G", "D"}) a finite float32 or float64 array, all in
    one dtype; one optimizer state per trained parameter (dotted paths in `trained`, all by
    default), with the keys `init_state` gives, each array of its parameter's shape and
    dtype, finite, and the accumulated squares (the optimizer spec's SQUARES) not negative.
    Returns the dtype."""
    from shared import checks
    dtype = checks.require_tree(concept, "params", params)
    spec = importlib.import_module(f"shared.concepts.{hyper['optimizer']}")
    squares = getattr(spec, "SQUARES", ())
    leaves = flatten(params)
    trained = list(leaves) if trained is None else list(trained)
    states = flatten_states(opt_state)
    if not isinstance(opt_state, dict) or set(states) != set(trained):
        got = sorted(states) if isinstance(opt_state, dict) else type(opt_state).__name__
        raise ValueError(f"{concept}: opt_state must hold one {hyper['optimizer']} state per trained parameter "
                         f"({len(trained)}: {', '.join(trained[:4])}{', ...' if len(trained) > 4 else ''}), got {got}")
    for path in trained:
        param, state, where = leaves[path], states[path], f"opt_state[{path!r}]"
        expected = spec.init_state(np.zeros(checks.shape_of(param)), **hyper["opt"])
        if not isinstance(state, dict) or set(state) != set(expected):
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"{concept}: {where} must be a {hyper['optimizer']} state with keys "
                             f"{sorted(expected)}, got {got}")
        for key, value in state.items():
            name = f"{where}[{key!r}]"
            if not isinstance(expected[key], np.ndarray):  # a step count
                if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
                    raise TypeError(f"{concept}: {name} must be the number of steps taken (an int >= 0), "
                                    f"got {value!r}")
                continue
            checks.require_float(concept, name, value)
            if checks.dtype_name(value) != dtype:
                raise TypeError(f"{concept}: {name} is {checks.dtype_name(value)} but params are {dtype}: "
                                "pass every floating-point array in one dtype")
            checks.require_shape(concept, name, value, checks.shape_of(param), f"the shape of params[{path!r}]")
            if key in squares:
                checks.require_nonnegative_values(concept, name, value, "it accumulates squared gradients")
    return dtype


def flatten_states(opt_state) -> dict[str, Any]:
    """{dotted parameter path: its optimizer state}: a state is the innermost dict whose
    values are not all dicts (a GAN's {"G": {"W_fc": {"m", "v", "t"}}} -> "G.W_fc")."""
    if not isinstance(opt_state, dict):
        return {}
    found = {}
    for key, value in opt_state.items():
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            found.update({f"{key}.{path}": state for path, state in flatten_states(value).items()})
        else:
            found[str(key)] = value
    return found


def error_inputs(case, change):
    """An ErrorCase's `make` for a train step: the first step of `case` as
    train_step(params, opt_state, batch, hyper) arguments, spoiled by `change(inputs)`."""
    def make():
        inputs = case.inputs()
        inputs = {"params": inputs["params"], "opt_state": inputs["opt_state"],
                  "batch": inputs["batches"][0], "hyper": inputs["hyper"]}
        change(inputs)
        return inputs
    return make


def run_steps(backend, fn, inputs: dict[str, Any], steps: tuple[int, ...], device: str,
              predict=None, predict_key: str = "") -> dict[int, dict]:
    """Call `fn(params, opt_state, batch, hyper)` once per batch, carrying params and
    opt_state from step to step in the backend's tensors; a NumPy snapshot of the loss,
    gradients, params and opt_state at each step in `steps`, and, given `predict`, of
    predict(params, batch[predict_key], hyper) with the parameters after that step."""
    snapshots = {}
    with backend.scope(device):
        params = backend.convert(inputs["params"], device)
        opt_state = backend.convert(inputs["opt_state"], device)
        for k, batch in enumerate(inputs["batches"][:max(steps)], start=1):
            batch = backend.convert(batch, device)
            loss, grads, params, opt_state = fn(params, opt_state, batch, inputs["hyper"])
            if k in steps:
                snapshot = {"loss": loss, "grads": grads, "params": params, "opt_state": opt_state}
                if predict is not None:
                    snapshot["predict"] = predict(params, batch[predict_key], inputs["hyper"])
                snapshots[k] = tree_map(backend.to_numpy, snapshot)
    return snapshots


def checks(snapshots: dict[int, dict]) -> dict[str, tuple[str, Any]]:
    """Every check name with its tolerance kind and the value it compares."""
    named = {}
    for k, snap in snapshots.items():
        for path, loss in flatten(snap["loss"]).items():  # path '' for the usual single loss
            named[f"loss@{k}:{path}" if path else f"loss@{k}"] = ("forward" if k == 1 else "step", loss)
        if k == 1:
            named.update({f"grad:{path}": ("grad", g) for path, g in flatten(snap["grads"]).items()})
        named.update({f"param@{k}:{path}": ("step", p) for path, p in flatten(snap["params"]).items()})
        named.update({f"state@{k}:{path}": ("step", s) for path, s in flatten(snap["opt_state"]).items()})
        if "predict" in snap:
            named[f"predict@{k}"] = ("step", snap["predict"])
    return named


_NUMERIC: dict[str, dict[str, np.ndarray]] = {}


def _digest(tree) -> str:
    h = hashlib.sha256()
    for path, leaf in flatten(tree).items():
        h.update(path.encode())
        h.update(leaf.tobytes() if isinstance(leaf, np.ndarray) else repr(leaf).encode())
    return h.hexdigest()


def numeric_entries(concept, name: str, size: int) -> np.ndarray | None:
    """The flat indices of array `name` that the numeric check differentiates: all (None),
    or concept.numeric_entries of them drawn with a seed of the name (the same every run)."""
    n = concept.numeric_entries
    if not n or n >= size:
        return None
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    return np.sort(rng.choice(size, n, replace=False))


def numeric_grads(concept, inputs: dict[str, Any], names) -> dict[str, np.ndarray]:
    """Central differences of the NumPy module's loss at step 1, for each parameter named
    (at its numeric_entries only, flattened, when the concept samples them).
    The loss sees the model's hyper-parameters only (not the optimizer's), so cases that
    differ only in their optimizer share one computation: thousands of loss evaluations."""
    module = backends.module("numpy", concept)
    params, batch = inputs["params"], inputs["batches"][0]
    several = hasattr(module, "numeric_losses")
    # several losses: the later ones are taken after the earlier updates, so they see the optimizer
    hyper = inputs["hyper"] if several else {k: v for k, v in inputs["hyper"].items() if k not in ("optimizer", "opt")}
    key = _digest({"concept": concept.name, "params": params, "batch": batch, "hyper": hyper, "names": list(names)})
    if key not in _NUMERIC:
        if several:
            losses = module.numeric_losses(params, batch, hyper)
        else:
            losses = {name: (lambda w, name=name: module.loss({**params, name: w}, batch, hyper), params[name])
                      for name in names}
        _NUMERIC[key] = {name: central_differences(lambda w, f=losses[name][0]: float(f(w)), losses[name][1],
                                                   numeric_entries(concept, name, losses[name][1].size))
                         for name in names}
    return _NUMERIC[key]


def run_task(task: Task, *, impl: Impl | None = None, reference_impl: Impl | None = None) -> list[Record]:
    concept, case = task.concept, task.case
    inputs = cast_inputs(case.inputs(), task.dtype)
    numpy = backends.get("numpy")
    records: list[Record] = []
    check = recorder(task, records)
    def predictor(name):  # the module's inference path, where the concept names one
        return backends.module(name, concept).predict if concept.predict else None

    def compute():
        return frozen(run_steps(numpy, (reference_impl or numpy.impl(concept)).forward, upcast(inputs),
                                concept.steps, "cpu", predictor("numpy"), concept.predict))
    try:
        reference = compute() if reference_impl else shared_reference(concept, case, task.dtype, compute)
    except Exception as error:  # no reference, nothing to compare: one failed record says why
        return [failed_record(task, f"loss@{concept.steps[0]}", "forward", error)]

    if task.backend == "numpy" and task.dtype == "float64":  # the reference itself
        grads = flatten(reference[1]["grads"])
        numeric = lazy_value(lambda: numeric_grads(concept, upcast(inputs), grads))
        for name in grads:
            entries = numeric_entries(concept, name, grads[name].size)
            got = grads[name] if entries is None else grads[name].reshape(-1)[entries]
            check("numeric", f"numeric:{name}", lambda tol, name=name, got=got: compare(got, numeric()[name], tol))
        return records

    backend = backends.get(task.backend)
    fn = (impl or backend.impl(concept)).forward
    got = lazy_value(lambda: {name: value for name, (_, value) in
                              checks(run_steps(backend, fn, inputs, concept.steps, task.device,
                                               predictor(task.backend), concept.predict)).items()})
    for name, (kind, expected) in checks(reference).items():
        check(kind, name, lambda tol, name=name, expected=expected: compare_leaves(got(), {name: expected}, tol)[name])
    return records

