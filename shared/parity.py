"""The parity engine: run a case through a backend and compare against the reference.

For one (concept, case, backend, dtype, device) it yields records for
  forward        backend output vs the NumPy float64 reference
  grad:<input>   backend VJP vs NumPy's hand-written backward in float64, with a
                 seeded RANDOM cotangent (a summed output would hide errors: the
                 summed gradient of softmax is exactly zero)
  numeric:<input> (NumPy, float64) hand-written backward vs central finite differences
  builtin:<api>  the framework's own API, value and gradients, vs the reference
NumPy float64 is the reference, so for it `forward` and `grad` compare against the
spec's independent golden values, where a case has them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from shared import tolerances
from shared.backends import Impl, resolved
from shared.spec import Case, Concept, Tolerance
from shared.trees import flatten, leaf, tree_map, with_leaf

# every comparison runs in both: float64 first (the math, the reference), then float32 (what people train in)
DTYPES = ("float64", "float32")

RECORD_KEYS = ("concept", "case", "backend", "device", "dtype", "check",
               "max_abs_err", "max_rel_err", "atol", "rtol", "passed")


@dataclass
class Record:
    concept: str
    case: str
    backend: str
    device: str
    dtype: str
    check: str
    max_abs_err: float | None
    max_rel_err: float | None
    atol: float
    rtol: float
    passed: bool
    # not part of the JSON schema: how close to the limit (<= 1 passes), and why it failed
    ratio: float = field(default=0.0, repr=False)
    note: str = field(default="", repr=False)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k in RECORD_KEYS}


@dataclass(frozen=True)
class Task:
    concept: Concept
    case: Case
    backend: str
    dtype: str
    device: str

    @property
    def id(self) -> str:
        return f"{self.backend}-{self.concept.name}-{self.case.name}-{self.dtype}-{self.device}"


@dataclass(frozen=True)
class Comparison:
    max_abs_err: float
    max_rel_err: float
    passed: bool
    ratio: float
    note: str = ""
    atol: float | None = None  # the absolute tolerance applied, where `scaled` made it differ


def _failure(note: str) -> Comparison:
    return Comparison(np.inf, np.inf, False, np.inf, note)


def compare(got, want, tol: Tolerance) -> Comparison:
    """Elementwise |got - want| <= atol + rtol * |want|. NaN never agrees with anything
    (no spec expects a NaN); an infinity agrees only with the same infinity."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return _failure(f"shape {got.shape} != expected {want.shape}")
    if np.isnan(got).any() or np.isnan(want).any():
        return _failure("NaN in output")
    finite = np.isfinite(got) & np.isfinite(want)
    if not np.array_equal(got[~finite], want[~finite]):
        return _failure("infinity where the reference is finite (or the reverse)")
    diff = np.abs(got[finite] - want[finite])
    scale = np.abs(want[finite])
    atol = max(tol.floor, tol.atol * float(scale.max(initial=0.0))) if tol.scaled else tol.atol
    max_abs = float(diff.max(initial=0.0))
    nonzero = scale > 0
    max_rel = float((diff[nonzero] / scale[nonzero]).max(initial=0.0))
    with np.errstate(divide="ignore", invalid="ignore"):  # an all-zero array compared with scaled atol
        ratios = np.where(diff > 0, diff / (atol + tol.rtol * scale), 0.0)
    ratio = float(ratios.max(initial=0.0))
    return Comparison(max_abs, max_rel, ratio <= 1.0, ratio, atol=atol)


def compare_leaves(got: dict[str, Any], want: dict[str, Any], tol: Tolerance) -> dict[str, Comparison]:
    """`compare` for every leaf path of `want`; a leaf that is missing fails."""
    missing = _failure("missing from the output")
    return {path: compare(got[path], w, tol) if path in got else missing for path, w in want.items()}


def output_leaves(concept: Concept, out) -> dict[str, Any]:
    """An output by leaf path: '' for a single array, the names in `concept.outputs`
    for a tuple (`param`, `state.m`, ...)."""
    if concept.outputs:
        if not isinstance(out, (tuple, list)) or len(out) != len(concept.outputs):
            raise TypeError(f"{concept.name} must return a tuple ({', '.join(concept.outputs)})")
        out = dict(zip(concept.outputs, out))
    return flatten(out)


def merge(parts: list[Comparison]) -> Comparison:
    worst = max(parts, key=lambda p: p.ratio)
    return Comparison(max(p.max_abs_err for p in parts), max(p.max_rel_err for p in parts),
                      all(p.passed for p in parts), worst.ratio,
                      "; ".join(p.note for p in parts if p.note), worst.atol)


def tolerance(concept: Concept, case: str, kind: str, dtype: str, device: str, backend: str) -> Tolerance:
    for override in concept.overrides:
        if override.matches(check=kind, case=case, dtype=dtype, backend=backend):
            return override.tolerance
    return tolerances.lookup(dtype, device, kind)


def _cast(dtype: str):
    return lambda v: v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v


def cast_inputs(inputs: dict[str, Any], dtype: str) -> dict[str, Any]:
    """Floating inputs (at any depth of a tree) in the dtype under test; integer labels
    and Python numbers stay as they are."""
    return tree_map(_cast(dtype), inputs)


def upcast(inputs: dict[str, Any]) -> dict[str, Any]:
    return tree_map(_cast("float64"), inputs)


def cotangent_for(seed: int, shape: tuple[int, ...], dtype: str, part: int | None = None) -> np.ndarray:
    """A seeded random cotangent, representable exactly in `dtype` (`part` draws another
    one for each part of a tuple output)."""
    rng = np.random.default_rng([seed, 0xC07] + ([] if part is None else [part]))
    return np.asarray(rng.standard_normal(shape)).astype(dtype).astype(np.float64)


def cotangent_like(seed: int, out, dtype: str):
    """A cotangent for each part of the output: one array, or a tuple (an attention's output
    and its weights), each drawn on its own."""
    if isinstance(out, (tuple, list)):
        return tuple(cotangent_for(seed, np.shape(o), dtype, part=i) for i, o in enumerate(out))
    return cotangent_for(seed, np.shape(out), dtype)


@dataclass(frozen=True)
class Reference:
    inputs: dict[str, Any]        # what the backend sees, in the dtype under test
    out: Any                      # NumPy float64 on the same (rounded, upcast) inputs
    grads: dict[str, np.ndarray]  # by path: `x`, or `params.Wq` for a leaf of a dict input
    cotangent: Any                # float64 values, exact in the dtype under test; a tuple for a tuple output


def frozen(tree):
    """The tree with every NumPy leaf read-only: a reference shared by several tasks must
    not be changed by one of them (an implementation writing into its input fails loudly)."""
    def freeze(leaf):
        if isinstance(leaf, np.ndarray):
            leaf.setflags(write=False)
        return leaf
    return tree_map(freeze, tree)


_REFERENCES: dict[tuple[str, str, str], Any] = {}


def shared_reference(concept: Concept, case: Case, dtype: str, compute: Callable[[], Any]):
    """`compute()` once per (concept, case, dtype) and process: every backend, and NumPy
    itself in float32, compares against the same NumPy float64 reference computed from
    the inputs rounded to `dtype`, so it need not be recomputed for each of them.
    `compute` returns its arrays `frozen`."""
    key = (concept.name, case.name, dtype)
    if key not in _REFERENCES:
        _REFERENCES[key] = compute()
    return _REFERENCES[key]


def clear_references() -> None:
    """Forget the shared references: after an implementation was replaced in place (a test
    that monkeypatches a NumPy module), a reference computed before would be stale."""
    _REFERENCES.clear()


def reference(concept: Concept, case: Case, dtype: str, impl: Impl | None = None) -> Reference:
    """The NumPy float64 reference for a case in `dtype`; computed once and shared unless
    `impl` replaces NumPy's implementation (a mutant)."""
    if impl is None:
        return shared_reference(concept, case, dtype, lambda: _reference(concept, case, dtype, None))
    return _reference(concept, case, dtype, impl)


def _reference(concept: Concept, case: Case, dtype: str, impl: Impl | None) -> Reference:
    from shared.backends import get
    numpy = get("numpy")
    impl = impl or numpy.impl(concept)
    inputs = cast_inputs(case.inputs(), dtype)
    exact = upcast(inputs)
    out = numpy.call(impl.forward, exact, case.kwargs, "cpu")
    v, grads = None, {}
    if concept.differentiable:
        v = cotangent_like(case.seed, out, dtype)
        _, grads = numpy.vjp(impl, exact, case.kwargs, concept.differentiable, v, "cpu")
    return Reference(frozen(inputs), frozen(out), frozen(grads), frozen(v))


def central_differences(f: Callable[[np.ndarray], float], x: np.ndarray, entries=None) -> np.ndarray:
    """df/dx of a scalar f by central differences in float64, one element at a time: every
    element, or only the flat indices in `entries` (then the result is those, in that order)."""
    x = x.astype(np.float64).copy()
    flat = x.reshape(-1)  # a view: writing it perturbs x
    grad = np.zeros(flat.size if entries is None else len(entries))
    for k, i in enumerate(range(flat.size) if entries is None else entries):
        original = flat[i]
        h = 1e-6 * max(1.0, abs(original))
        flat[i] = original + h
        f_plus = f(x)
        upper = flat[i]
        flat[i] = original - h
        f_minus = f(x)
        lower = flat[i]
        flat[i] = original
        grad[k] = (f_plus - f_minus) / (upper - lower)  # the step actually taken after rounding
    return grad.reshape(x.shape) if entries is None else grad


def numeric_vjp(fn: Callable, inputs: dict[str, Any], kwargs, name: str, v) -> np.ndarray:
    """d<f(x), v>/dx by central differences in float64; `name` is an input or the path of a
    leaf inside one (`params.Wq`), `v` one cotangent per output part."""
    def inner_product(x):
        out = flatten(fn(**with_leaf(inputs, name, x), **kwargs))
        return sum(np.sum(np.asarray(out[path]) * w) for path, w in flatten(v).items())

    return central_differences(inner_product, leaf(inputs, name))


def _record(task: Task, check: str, tol: Tolerance, result: Comparison) -> Record:
    atol = tol.atol if result.atol is None else result.atol
    return Record(task.concept.name, task.case.name, task.backend, task.device, task.dtype, check,
                  result.max_abs_err, result.max_rel_err, atol, tol.rtol, result.passed,
                  result.ratio, result.note)


def failed_record(task: Task, check: str, kind: str, error: Exception) -> Record:
    """The record of a comparison that could not be made: the error says why."""
    tol = tolerance(task.concept, task.case.name, kind, task.dtype, task.device, task.backend)
    return Record(task.concept.name, task.case.name, task.backend, task.device, task.dtype, check,
                  None, None, tol.atol, tol.rtol, False, np.inf, f"{type(error).__name__}: {error}")


def recorder(task: Task, records: list[Record]) -> Callable[[str, str, Callable[[Tolerance], Comparison]], None]:
    """`check(kind, name, measure)`: look up the tolerance of `kind`, run
    `measure(tolerance)` and append its record, unless the spec declares the check
    skipped for this case. A crash is a failed comparison, reported, not fatal."""
    concept, case = task.concept, task.case

    def check(kind: str, name: str, measure: Callable[[Tolerance], Comparison]):
        if concept.skip_reason(case.name, name):
            return
        tol = tolerance(concept, case.name, kind, task.dtype, task.device, task.backend)
        try:
            records.append(_record(task, name, tol, measure(tol)))
        except Exception as error:
            records.append(failed_record(task, name, kind, error))

    return check


def run_task(task: Task, *, impl: Impl | None = None, reference_impl: Impl | None = None) -> list[Record]:
    """Every record for one task. `impl` replaces the backend's implementation and
    `reference_impl` the NumPy reference (the mutant tests use both)."""
    from shared.backends import get
    concept, case = task.concept, task.case
    if task.backend == "numpy" and impl is not None and reference_impl is None:
        reference_impl = impl
    if concept.steps:
        from shared import training
        return training.run_task(task, impl=impl, reference_impl=reference_impl)
    backend = get(task.backend)
    records: list[Record] = []
    try:
        ref = reference(concept, case, task.dtype, reference_impl)
    except Exception as error:  # no reference, nothing to compare: one failed record says why
        return [failed_record(task, "forward", "forward", error)]
    impl = impl or backend.impl(concept)
    check = recorder(task, records)

    reference_is_self = task.backend == "numpy" and task.dtype == "float64"
    if not reference_is_self:
        _check_against_reference(task, backend, impl, ref, check)
    else:
        _check_golden(task, ref, check)
        for name in ref.grads:
            check("numeric", f"numeric:{name}", lambda tol, name=name: compare(
                ref.grads[name],
                numeric_vjp(impl.forward, upcast(ref.inputs), case.kwargs, name, ref.cotangent), tol))
    for oracle in concept.oracles:
        if oracle.backend == task.backend and oracle.applies(case):
            check("builtin", f"builtin:{oracle.api}",
                  lambda tol, oracle=oracle: _check_oracle(task, backend, oracle, ref, tol))
    # the classes are built on the CPU: a GPU task has no layer check of its own
    if concept.layer is not None and task.backend in concept.layer_backends and task.device == "cpu":
        _check_layer(task, ref, check, records)
    return records


def lazy_value(compute: Callable[[], Any]) -> Callable[[], Any]:
    """`compute()` run on the first call and remembered: inside the first check, so that a
    crash becomes that check's failed record, and once for all the checks that need it."""
    cache = []

    def value():
        if not cache:
            cache.append(compute())
        return cache[0]
    return value


def _check_leaves(check, concept, got: Callable[[], Any], want, dtype: str | None = None):
    """One record per output leaf: `forward` for one array, `forward:<path>` for a tuple. With
    `dtype`, a floating output in another dtype fails (a float32 run that computed in float64,
    as a NumPy float64 scalar does to a float32 array under NumPy 2, compares well and is wrong)."""
    want = output_leaves(concept, want)
    leaves = lazy_value(lambda: output_leaves(concept, got()))

    def measure(path, tol):
        value = leaves().get(path)
        kind = np.asarray(value).dtype if value is not None else None
        if dtype and kind is not None and kind.kind == "f" and kind.name != dtype:
            return _failure(f"the output is {kind.name} where the inputs are {dtype}")
        return compare_leaves(leaves(), {path: want[path]}, tol)[path]

    for path in want:
        check("forward", f"forward:{path}" if path else "forward", lambda tol, path=path: measure(path, tol))


def _check_against_reference(task, backend, impl, ref, check):
    concept, case = task.concept, task.case
    if not concept.differentiable:
        _check_leaves(check, concept, lambda: backend.call(impl.forward, ref.inputs, case.kwargs, task.device),
                      ref.out, task.dtype)
        return
    # one backward pass serves the forward and every gradient record
    vjp = lazy_value(lambda: backend.vjp(impl, ref.inputs, case.kwargs, concept.differentiable,
                                         ref.cotangent, task.device))
    _check_leaves(check, concept, lambda: vjp()[0], ref.out, task.dtype)
    for name in ref.grads:
        check("grad", f"grad:{name}", lambda tol, name=name: compare(vjp()[1][name], ref.grads[name], tol))


def _check_golden(task, ref, check):
    case = task.case
    exact = upcast(ref.inputs)
    if case.golden is not None:
        _check_leaves(check, task.concept, lambda: ref.out, case.golden(exact))
    if case.golden_grad is not None:
        expected = case.golden_grad(exact, ref.cotangent)
        for name, want in expected.items():
            check("grad", f"grad:{name}", lambda tol, name=name, want=want: compare(ref.grads[name], want, tol))


def _check_layer(task, ref, check, records):
    """A class that restates the function (a book-style layer, a framework's own module)
    against the reference the function is held to."""
    from shared.backends import module
    try:
        pairs = task.concept.layer(module(task.backend, task.concept), ref, task.case.kwargs)
    except Exception as error:  # a layer that crashes is one failed record that says why
        records.append(failed_record(task, "layer", "forward", error))
        return
    for name, (got, want) in pairs.items():
        check("grad" if name.startswith("grad") else "forward", f"layer:{name}",
              lambda tol, got=got, want=want: compare(got, want, tol))


def _check_oracle(task, backend, oracle, ref, tol) -> Comparison:
    concept, case = task.concept, task.case
    fn = resolved(oracle.fn, task.backend, oracle.uses)
    want = output_leaves(concept, ref.out)
    if oracle.outputs:  # the API returns some parts only (F.scaled_dot_product_attention: no weights)
        want = {name: want[name] for name in oracle.outputs}

    def leaves(out):
        return dict(zip(oracle.outputs, out)) if oracle.outputs else output_leaves(concept, out)

    if task.backend == "numpy" or not concept.differentiable or not oracle.differentiable:
        out = backend.call(fn, ref.inputs, case.kwargs, task.device)
        return merge(list(compare_leaves(leaves(out), want, tol).values()))
    v, want_grads = ref.cotangent, ref.grads
    if oracle.outputs:  # the reference's gradients with a cotangent on those parts alone
        v, want_grads = _restricted_vjp(concept, case, ref, oracle.outputs)
    out, grads = backend.vjp(Impl(fn), ref.inputs, case.kwargs, concept.differentiable, v, task.device)
    return merge(list(compare_leaves(leaves(out), want, tol).values()) +
                 [compare(grads[k], want_grads[k], tol) for k in want_grads])


def _restricted_vjp(concept, case, ref, outputs):
    """(the cotangents of `outputs`, the NumPy float64 gradients with zero on every other part)."""
    from shared.backends import get
    numpy = get("numpy")
    parts = dict(zip(concept.outputs, ref.cotangent))
    v = tuple(parts[name] if name in outputs else np.zeros_like(w) for name, w in parts.items())
    _, grads = numpy.vjp(numpy.impl(concept), upcast(ref.inputs), case.kwargs, concept.differentiable, v, "cpu")
    return tuple(parts[name] for name in outputs), grads


def plan(concepts: Iterable[Concept], backends: Iterable[str], dtypes: Iterable[str],
         devices: dict[str, list[str]]) -> list[Task]:
    """Every task to run; `devices` maps a backend name to the devices it has."""
    return [Task(concept, case, backend, dtype, device)
            for concept in concepts
            for case in concept.cases
            for backend in backends
            for dtype in dtypes
            for device in devices[backend]]
