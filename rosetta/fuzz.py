"""Bad and extreme inputs, generated from every spec: the promise that bad input gets the
same clear error from all three backends, and no silent NaN.

As PyTorch's OpInfo derives error inputs from its sample inputs, every variant here is a
spec case's valid input with one thing spoiled: one array (a leaf of the input tree, a
train step's parameters, optimizer state and batch included) gets NaN or inf in one
entry, another dtype, a rank or a size that no longer fits, becomes a Python list or
None, a label out of range, a negated or enormous value, or a non-contiguous view; or the
whole batch becomes empty. No variant is written by hand, so a new concept is fuzzed
from its cases.

Every variant runs in every installed backend. Its outcome in each is
  error   a ValueError or TypeError whose message names the concept (the validator);
  crash   any other exception: a framework error the validator should have caught;
  value   a result.
The checks (`problems`):
  framework error   a crash;
  silent NaN/inf    a non-finite output from finite input where the NumPy float64
                    reference on the same input is finite and fits the dtype;
  disagreement      the backends' outcomes differ: another error message, an error in
                    one and a value in another, or values that differ;
  policy            a NaN or inf input that was not rejected (shared/checks.py: NaN policy).
A check that a whole class of one concept fails for a measured, explained reason (not a
defect) is declared in DECLARED: `declared`, not `problems`.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from shared import backends
from shared.parity import DTYPES, cast_inputs, upcast
from shared.spec import Case, Concept
from shared.trees import flatten

HUGE = 1e30  # finite in float32 (max 3.4e38), but its square is not: scaling must come first

_BUILTIN_BN = ("torch_impl.gan and tf_impl.gan normalise with the frameworks' own batch norm (the idiomatic "
               "port), whose variance overflows in float32 at 1e30: 0.97 off in the generator's images, where "
               "NumPy's scaled batch_norm keeps float64's (porting cases torch-bn-overflow, keras-bn-overflow)")
_ADAM_NOISE = ("a gradient entry that is 0 in float64 (-7e-18) is float32 rounding noise (0 to 7e-9) in each "
               "backend, and Adam (eps 1e-8) turns noise of eps's size into a step of up to lr: b1 0.001-0.002 "
               "off where float64 moves it by 3e-12")
# (class, concept) -> {check: why}: measured with `rosetta fuzz`, explained, not defects
DECLARED: dict[tuple[str, str], dict[str, str]] = {
    ("huge", "gan_generator"): {"float32 off": _BUILTIN_BN, "disagreement": _BUILTIN_BN},
    ("huge", "gan_train_step"): {"float32 off": _BUILTIN_BN, "disagreement": _BUILTIN_BN},
    ("huge", "metric_train_step"): dict.fromkeys(("float32 off", "disagreement"), (
        "1e30 weights feed squared distances of 1e60, a loss that ill-conditioned moves with any order of "
        "summation: float32 is off float64's loss by up to 0.15 of 0.25 in all three, their gradients of ~1e-8 "
        "differ between them, or overflow to NaN gradients that the optimizer's validator rejects, naming a "
        "different array first in each backend")),
    ("negated", "metric_train_step"): dict.fromkeys(("float32 off", "disagreement"), _ADAM_NOISE),
    ("huge", "positional_encoding"): dict.fromkeys(("float32 off", "disagreement"), (
        "positions of 1e30: sin(p w) of an angle whose float32 ulp is 7e22 radians has no correct digit in "
        "float32 (sine's condition number is |p w|); each backend's rounding of p w picks another value in "
        "[-1, 1], and float64's as well (its ulp there is 1.4e14)")),
    ("huge", "bit_train_step"): {"disagreement": (
        "a group norm's beta of 1e30 leaves its own gradient at ~1e-45, the cancellation noise of terms of "
        "~1e-30 (float64's epsilon times them): the three agree to 1e-45 on a value that is 0 at that scale")},
}


@dataclass(frozen=True)
class Transform:
    """One way to spoil one array: `applies(leaf)` and `apply(leaf, rng, dtype)`."""

    name: str
    what: str
    applies: Callable[[np.ndarray], bool]
    apply: Callable[[np.ndarray, np.random.Generator, str], Any]
    non_finite: bool = False  # the input is NaN or inf: the NaN policy says reject


def _floating(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _integer(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind in "iu"


def _array(a) -> bool:
    return isinstance(a, np.ndarray)


def _sized(a) -> bool:
    return isinstance(a, np.ndarray) and a.ndim >= 1 and a.size > 0


def _with_entry(a: np.ndarray, rng, value) -> np.ndarray:
    out = a.copy()
    out.reshape(-1)[rng.integers(out.size)] = value
    return out


def _grown(a: np.ndarray, axis: int) -> np.ndarray:
    """One more slice along `axis` (a copy of the first): sizes that no longer agree."""
    return np.concatenate([a, np.take(a, [0], axis=axis)], axis=axis)


def _strided(a: np.ndarray) -> np.ndarray:
    """The same values as a non-contiguous view (every other element of a larger array)."""
    base = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    view = base[..., ::2]
    view[...] = a
    return view


def _float16(a):
    # entries above float16's 65504 (a schedule's step 100000) become inf: rejected as float16 anyway
    with np.errstate(over="ignore"):
        return a.astype(np.float16)


def _other_float(dtype: str) -> str:
    return "float32" if dtype == "float64" else "float64"


TRANSFORMS = (
    Transform("nan", "NaN in one entry", lambda a: _floating(a) and a.size > 0,
              lambda a, rng, d: _with_entry(a, rng, np.nan), non_finite=True),
    Transform("inf", "inf in one entry", lambda a: _floating(a) and a.size > 0,
              lambda a, rng, d: _with_entry(a, rng, np.inf), non_finite=True),
    Transform("huge", f"every entry times {HUGE:g} (finite in float32)", lambda a: _floating(a) and a.size > 0,
              lambda a, rng, d: (a * HUGE).astype(a.dtype)),
    Transform("negated", "every entry negated (probabilities < 0, second moments < 0)",
              lambda a: _floating(a) and a.size > 0 and bool((a != 0).any()), lambda a, rng, d: -a),
    Transform("integer-dtype", "a float array cast to int64", _floating,
              lambda a, rng, d: np.round(a).astype(np.int64)),
    Transform("float16", "a float array in float16", _floating, lambda a, rng, d: _float16(a)),
    Transform("mixed-dtypes", "one float array in the other float dtype", _floating,
              lambda a, rng, d: a.astype(_other_float(d))),
    Transform("label-too-large", "an integer entry far above any class or vocabulary size",
              lambda a: _integer(a) and a.size > 0, lambda a, rng, d: _with_entry(a, rng, 10 ** 6)),
    Transform("label-negative", "an integer entry -1", lambda a: _integer(a) and a.size > 0 and a.dtype.kind == "i",
              lambda a, rng, d: _with_entry(a, rng, -1)),
    Transform("float-labels", "an integer array cast to float", _integer, lambda a, rng, d: a.astype(d)),
    Transform("list", "a Python list instead of an array", _array, lambda a, rng, d: a.tolist()),
    Transform("none", "None instead of an array", _array, lambda a, rng, d: None),
    Transform("rank-low", "the last axis dropped", _sized, lambda a, rng, d: a[..., 0]),
    Transform("rank-high", "a leading axis of 1 added", _array, lambda a, rng, d: a[None]),
    Transform("size-first", "one more slice along the first axis", _sized, lambda a, rng, d: _grown(a, 0)),
    Transform("size-last", "one more slice along the last axis", lambda a: _sized(a) and a.ndim >= 2,
              lambda a, rng, d: _grown(a, -1)),
    Transform("empty-array", "the first axis emptied", _sized, lambda a, rng, d: a[:0]),
    Transform("non-contiguous", "a strided view with the same values", _sized, lambda a, rng, d: _strided(a)),
)
EMPTY_BATCH = "empty-batch"
CLASSES = tuple(t.name for t in TRANSFORMS) + (EMPTY_BATCH,)
_BY_NAME = {t.name: t for t in TRANSFORMS}


def call_inputs(concept: Concept, case: Case) -> dict[str, Any]:
    """What the concept's function is called with for `case` (without the kwargs): a
    train step's first step is train_step(params, opt_state, batch, hyper)."""
    inputs = case.inputs()
    if concept.steps:
        return {"params": inputs["params"], "opt_state": inputs["opt_state"],
                "batch": inputs["batches"][0], "hyper": inputs["hyper"]}
    return inputs


def _set(tree, path: str, value):
    """A copy of `tree` with the leaf at dotted `path` replaced."""
    head, _, rest = path.partition(".")
    if isinstance(tree, dict):
        key = head
    else:
        key = int(head)
    if isinstance(tree, tuple):
        tree = list(tree)
        tree[key] = _set(tree[key], rest, value) if rest else value
        return tuple(tree)
    tree = dict(tree) if isinstance(tree, dict) else list(tree)
    tree[key] = _set(tree[key], rest, value) if rest else value
    return tree


def _batch_part(concept: Concept, inputs) -> tuple[str, Any]:
    """(prefix, tree) of the inputs that hold the batch: a train step's `batch`, else all."""
    return ("batch.", inputs["batch"]) if concept.steps else ("", inputs)


@dataclass(frozen=True)
class Variant:
    concept: Concept
    case: Case
    dtype: str
    kind: str   # a class: a Transform's name or EMPTY_BATCH
    path: str   # the array spoiled ('' for EMPTY_BATCH)

    @property
    def id(self) -> str:
        where = f"[{self.path}]" if self.path else ""
        return f"{self.concept.name}-{self.case.name}-{self.dtype}-{self.kind}{where}"

    @property
    def non_finite(self) -> bool:
        return self.kind in _BY_NAME and _BY_NAME[self.kind].non_finite

    def inputs(self) -> dict[str, Any]:
        """The spoiled inputs, the same on every call (seeded by the variant's id)."""
        inputs = cast_inputs(call_inputs(self.concept, self.case), self.dtype)
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        if self.kind == EMPTY_BATCH:
            prefix, part = _batch_part(self.concept, inputs)
            n = _batch_size(part)
            for path, leaf in flatten(part).items():
                if _sized(leaf) and leaf.shape[0] == n:
                    inputs = _set(inputs, prefix + path, leaf[:0])
            return inputs
        leaf = flatten(inputs)[self.path]
        return _set(inputs, self.path, _BY_NAME[self.kind].apply(leaf, rng, self.dtype))


def _batch_size(part) -> int | None:
    """The first axis of the first array with one: the batch size of this call."""
    return next((leaf.shape[0] for leaf in flatten(part).values() if _sized(leaf)), None)


def variants(concepts, dtypes=DTYPES) -> list[Variant]:
    """Every variant of every case of every concept: each class on each array it applies
    to, in each dtype (OpInfo's error inputs, derived instead of written)."""
    found = []
    for concept in concepts:
        for case in concept.cases:
            inputs = call_inputs(concept, case)
            leaves = flatten(inputs)
            for dtype in dtypes:
                for transform in TRANSFORMS:
                    found += [Variant(concept, case, dtype, transform.name, path)
                              for path, leaf in leaves.items() if transform.applies(leaf)]
                if _batch_size(_batch_part(concept, inputs)[1]):
                    found.append(Variant(concept, case, dtype, EMPTY_BATCH, ""))
    return found


def draw(found: list[Variant], examples: int | None, seed: int = 0) -> list[Variant]:
    """`examples` variants (all with None), spread evenly: each (concept, class) group is
    shuffled with `seed`, then the groups give one variant each in turn, so a small draw
    still tries every class of every concept. In a deterministic order."""
    rng = np.random.default_rng(seed)
    groups: dict[tuple[str, str], list[Variant]] = {}
    # concepts in (module, name) order whatever order they came in: the same seed draws the same variants
    for v in sorted(found, key=lambda v: (v.concept.module, v.concept.name)):
        groups.setdefault((v.concept.name, v.kind), []).append(v)
    queues = [[group[i] for i in rng.permutation(len(group))] for group in groups.values()]
    chosen, depth = [], 0
    limit = len(found) if examples is None else min(examples, len(found))
    while len(chosen) < limit:
        chosen += [queue[depth] for queue in queues if depth < len(queue)][:limit - len(chosen)]
        depth += 1
    return chosen


# ------------------------------------------------------------------------------ running

@dataclass(frozen=True)
class Outcome:
    kind: str                  # "error" | "crash" | "value"
    message: str = ""          # the error's type and text
    value: Any = None          # {path: numpy array} of the result


def _run(backend, fn, inputs, kwargs) -> Outcome:
    try:
        with np.errstate(all="ignore"):  # a silent NaN is what we are looking for, not a warning
            out = backend.call(fn, inputs, kwargs, "cpu")
    except (ValueError, TypeError) as error:
        return _error(error)
    except Exception as error:  # a framework's own error: the validator missed something
        return Outcome("crash", f"{type(error).__name__}: {_first_line(error)}")
    return Outcome("value", value={k: np.asarray(v) for k, v in flatten(out).items()})


def _error(error: Exception) -> Outcome:
    text = str(error)
    if _names_a_concept(text):
        return Outcome("error", f"{type(error).__name__}: {text}")
    return Outcome("crash", f"{type(error).__name__}: {_first_line(error)}")


def _names_a_concept(text: str) -> bool:
    """Our validators start every message with 'concept: ' (a layer's validator inside a
    train step names its own concept: still ours, and the same in every backend)."""
    from rosetta.cli.arguments import concept_names
    head = text.split(":", 1)[0]
    return head in concept_names()


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [""])[0][:200]


# agreement between backends on a fuzzed input: the same computation, not its accuracy
# (parity measures that on the spec's cases). A spoiled input can be ill-conditioned (1e30,
# a negated state), so values agree when every part is within this share of its largest
# |value|. The largest honest gap is Adam's first step lr * g / (|g| + eps): where a
# gradient cancels to ~0, its rounding (1e-16 relative in float64, 1e-7 in float32) is
# divided by eps = 1e-8 and reaches 1e-8 (float64), up to lr (float32) of a parameter
# (measured: 1.7e-9 of the part's largest value in float64). A different computation (a
# wrong mask, a missing term) lands far above both.
AGREEMENT = {"float64": 1e-6, "float32": 1e-3}
_MAX = {"float64": float(np.finfo(np.float64).max), "float32": float(np.finfo(np.float32).max)}
# below sqrt(float32's smallest normal) the product of two such values underflows: float32
# gives such a part (a gradient of 8e-35 behind a 1e30 weight) no relative accuracy
_SMALL = float(np.sqrt(np.finfo(np.float32).tiny))


@dataclass
class Result:
    variant: Variant
    outcomes: dict[str, Outcome]
    reference: Outcome | None = None  # NumPy in float64 on the same (upcast) input
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (check, backend or '', detail)
    declared: list[tuple[str, str, str]] = field(default_factory=list)  # the same, explained in DECLARED

    @property
    def verdict(self) -> str:
        kinds = {o.kind for o in self.outcomes.values()}
        if self.problems:
            return "problem"
        if self.declared:
            return "declared"
        return "rejected" if kinds == {"error"} else "accepted"


def run_variant(variant: Variant, names=None) -> Result:
    names = [n for n in (names or backends.BACKEND_NAMES) if backends.installed(n)]
    inputs = variant.inputs()
    kwargs = dict(variant.case.kwargs)
    outcomes = {}
    for name in names:
        backend = backends.get(name)
        fn = backend.impl(variant.concept).forward
        outcomes[name] = _run(backend, fn, inputs, kwargs)
    result = Result(variant, outcomes)
    if any(o.kind == "value" for o in outcomes.values()) and variant.dtype != "float64":
        numpy = backends.get("numpy")
        result.reference = _run(numpy, numpy.impl(variant.concept).forward, upcast(inputs), kwargs)
    elif "numpy" in outcomes:
        result.reference = outcomes["numpy"]
    _judge(result)
    return result


def _judge(result: Result) -> None:
    variant, outcomes = result.variant, result.outcomes
    problems = result.problems
    for name, o in outcomes.items():
        if o.kind == "crash":
            problems.append(("framework error", name, o.message))
    values = {name: o for name, o in outcomes.items() if o.kind == "value"}
    if variant.non_finite and values:
        problems.append(("policy", ",".join(values), "a NaN or inf input was accepted"))
    if not variant.non_finite and _fits(result.reference, variant.dtype):
        for name, o in values.items():
            detail = _silent_non_finite(o.value, result.reference, variant.dtype)
            if detail:
                problems.append(("silent NaN/inf", name, detail))
            elif _precision(variant.inputs()) == "float32" and result.reference.kind == "value":
                # float32 where the float64 answer fits float32: the same answer (scale first)
                detail = _values_differ({"float64": result.reference, name: o}, "float32", fitting=True)
                if detail:
                    problems.append(("float32 off", name, detail))
    judged = {name: o for name, o in outcomes.items() if o.kind != "crash"}
    if len({o.kind for o in judged.values()}) > 1:
        problems.append(("disagreement", "", "; ".join(f"{n}: {_describe(o)}" for n, o in judged.items())))
    elif judged and next(iter(judged.values())).kind == "error":
        messages = {o.message for o in judged.values()}
        if len(messages) > 1:
            problems.append(("disagreement", "", "; ".join(f"{n}: {o.message}" for n, o in judged.items())))
    elif len(values) > 1 and _fits(result.reference, _precision(variant.inputs())):
        # where the answer does not fit the dtype, each backend meets the dtype's limit in
        # its own order of operations: only the outcome, not the value, must agree
        detail = _values_differ(values, _precision(variant.inputs()))
        if detail:
            problems.append(("disagreement", "", detail))
    explained = DECLARED.get((variant.kind, variant.concept.name), {})
    result.declared[:] = [p for p in problems if p[0] in explained]
    problems[:] = [p for p in problems if p[0] not in explained]


def _precision(inputs) -> str:
    """The dtype the computation ran in: float32 if any floating input is (a float64
    variant with one array in float32 computes that array's part in float32)."""
    kinds = {leaf.dtype.name for leaf in flatten(inputs).values() if _floating(leaf)}
    return "float32" if "float32" in kinds else "float64"


def _describe(o: Outcome) -> str:
    return o.message if o.kind != "value" else "a value"


def _fits(reference: Outcome | None, dtype: str) -> bool:
    """The float64 answer is finite and fits `dtype`, all of it: where a part cannot be
    stored (an optimizer's state of 1e59 in float32), what follows from its overflow is
    the dtype's limit, not a silent NaN."""
    if reference is None or reference.kind != "value":
        return True  # nothing to hold the backends to but finiteness itself
    parts = [np.asarray(v, dtype=np.float64) for v in reference.value.values() if np.asarray(v).dtype.kind in "fc"]
    return all(np.isfinite(p).all() and float(np.abs(p).max(initial=0.0)) <= _MAX[dtype] for p in parts)


def _silent_non_finite(value: dict, reference: Outcome | None, dtype: str) -> str:
    """Where an output is NaN or inf though the float64 reference there is finite and fits
    the dtype (or the reference itself is NaN or inf from finite input)."""
    ref = reference.value if reference is not None and reference.kind == "value" else None
    for path, got in value.items():
        got = np.asarray(got)
        if got.dtype.kind not in "fc" or np.isfinite(got).all():
            continue
        bad = ~np.isfinite(got)
        if ref is None or path not in ref or np.shape(ref[path]) != got.shape:
            return f"{path or 'output'}: NaN or inf"
        want = np.asarray(ref[path], dtype=np.float64)
        fits = np.isfinite(want) & (np.abs(want) <= _MAX.get(dtype, np.inf))
        if (bad & fits).any() or (bad & ~np.isfinite(want) & np.isnan(want)).any():
            return f"{path or 'output'}: NaN or inf where float64 gives {want[bad][0]:.3g}"
    return ""


def _values_differ(values: dict[str, Outcome], dtype: str, fitting: bool = False) -> str:
    """'' when every backend's value agrees with the first one's (to AGREEMENT[dtype] of
    each part's largest |value|); else where they differ. With `fitting`, the first is the
    float64 reference and only the parts where it fits float32 are compared."""
    names = list(values)
    first = values[names[0]].value
    for name in names[1:]:
        other = values[name].value
        if set(other) != set(first):
            return f"{names[0]} and {name} return different parts"
        for path in first:
            a, b = np.asarray(first[path], dtype=np.float64), np.asarray(other[path], dtype=np.float64)
            if fitting and not (np.isfinite(a) & (np.abs(a) <= _MAX["float32"])).all():
                continue  # the float64 answer does not fit float32: overflow there is right
            if fitting and float(np.abs(a).max(initial=0.0)) < _SMALL:
                continue  # a part this small underflows float32 in any product on the way
            if a.shape != b.shape:
                return f"{path or 'output'}: shape {a.shape} in {names[0]}, {b.shape} in {name}"
            finite = np.isfinite(a) & np.isfinite(b)
            if not np.array_equal(np.isnan(a), np.isnan(b)) or not np.array_equal(a[~finite & ~np.isnan(a)],
                                                                                  b[~finite & ~np.isnan(b)]):
                return f"{path or 'output'}: NaN or inf in {names[0]} and {name} at different places"
            scale = max(float(np.abs(a[finite]).max(initial=0.0)), float(np.abs(b[finite]).max(initial=0.0)))
            gap = float(np.abs(a[finite] - b[finite]).max(initial=0.0))
            if gap > AGREEMENT[dtype] * scale:
                return f"{path or 'output'}: {names[0]} and {name} differ by {gap:.3g} (largest |value| {scale:.3g})"
    return ""


# ------------------------------------------------------------------------------ reporting

CHECKS = ("framework error", "silent NaN/inf", "float32 off", "disagreement", "policy")


def tally(results: list[Result], names=backends.BACKEND_NAMES) -> dict[str, dict[str, Any]]:
    """Per class (and 'all'): how many variants, rejected, accepted, declared (DECLARED),
    and each check's count per backend (framework error, silent NaN/inf, float32 off) or
    in all (disagreement, policy)."""
    rows: dict[str, dict[str, Any]] = {}
    for r in results:
        for kind in (r.variant.kind, "all"):
            row = rows.setdefault(kind, {"variants": 0, "rejected": 0, "accepted": 0,
                                         **{c: {n: 0 for n in names} for c in CHECKS[:3]}, "disagreement": 0,
                                         "policy": 0, "declared": 0})
            row["declared"] += r.verdict == "declared"
            row["variants"] += 1
            if r.verdict in ("rejected", "accepted"):
                row[r.verdict] += 1
            for check, backend, _ in r.problems:
                if check in CHECKS[:3]:
                    row[check][backend] += 1
                else:
                    row[check] += 1
    return {kind: rows[kind] for kind in [*CLASSES, "all"] if kind in rows}


def to_json(result: Result) -> dict:
    return {"variant": result.variant.id, "concept": result.variant.concept.name, "case": result.variant.case.name,
            "dtype": result.variant.dtype, "class": result.variant.kind, "array": result.variant.path,
            "verdict": result.verdict,
            "outcomes": {n: {"kind": o.kind, "message": o.message} for n, o in result.outcomes.items()},
            "problems": [{"check": c, "backend": b, "detail": d} for c, b, d in result.problems],
            "declared": [{"check": c, "backend": b, "detail": d} for c, b, d in result.declared]}
