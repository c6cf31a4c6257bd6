"""The contract language: what every implementation of a concept must compute.

A `Concept` names a function that exists under the same name in `numpy_impl`,
`torch_impl` and `tf_impl`; its `Case`s are the inputs the parity engine feeds all
three. Everything else (oracles, porting cases, tolerances, skips) hangs off the
concept so that adding a concept means adding one spec file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

Arrays = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Tolerance:
    """Pass when |got - want| <= atol + rtol * |want| elementwise (numpy.allclose).

    With `scaled`, atol is relative to the largest |want| of the compared array: a
    norm-wise bound, for arrays whose rounding comes from sums over many terms and so
    scales with the array's magnitude (an optimizer's second moments are ~1e-9 where
    the parameters are ~1; a fixed atol would be meaningless for one or the other).
    `floor` keeps a scaled atol from vanishing on an array that is 0 in exact arithmetic
    and holds only the rounding noise of its neighbours."""

    atol: float
    rtol: float
    reason: str
    scaled: bool = False
    floor: float = 0.0  # with `scaled`: the absolute atol never goes below this


@dataclass(frozen=True)
class Case:
    """One named, seeded input set.

    `make(rng)` builds the inputs from a NumPy Generator seeded with `seed`, so the
    three frameworks see the same draws. `golden` is an independent expected output
    (a closed form or a published value), `golden_grad(inputs, cotangent)` an
    independent expected vector-Jacobian product; both are checked against NumPy.
    """

    name: str
    make: Callable[[np.random.Generator], dict[str, Any]]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    golden: Callable[[Arrays], np.ndarray] | None = None
    golden_grad: Callable[[Arrays, np.ndarray], dict[str, np.ndarray]] | None = None
    note: str = ""

    def inputs(self) -> dict[str, Any]:
        return self.make(np.random.default_rng(self.seed))


@dataclass(frozen=True)
class ErrorCase:
    """Bad input that every backend must reject with the same error type and message."""

    name: str
    make: Callable[[], dict[str, Any]]
    error: type[Exception]
    match: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Oracle:
    """A framework's own API that must agree with our implementation.

    `fn(**inputs, **kwargs)` receives the backend's tensors; it imports its framework
    lazily so that reading the spec needs no framework. `applies(case)` restricts the
    oracle to the cases whose semantics it shares. Its value and, when differentiable,
    its gradients are compared. An oracle built on one of the project's own modules (our
    timm-named ResNetV2) names it in `uses` ("bit"): the engine imports that module of the
    backend's package and passes it as the keyword `impl`, so that no spec imports the
    code under test. An API that returns only some parts of a tuple output names them in
    `outputs` and returns those, in that order; its gradients are then compared with the
    reference's for a cotangent on those parts alone.
    """

    backend: str
    api: str
    fn: Callable[..., Any]
    applies: Callable[[Case], bool] = lambda case: True
    differentiable: bool = True  # False where the framework defines no derivative
    uses: str = ""
    outputs: tuple[str, ...] = ()  # the parts of a tuple output it returns, where not all


@dataclass(frozen=True)
class Side:
    """One side of a porting comparison: an API call in one framework. A side that runs one
    of the project's own modules names it in `uses`, as an Oracle does: `fn` then receives
    that module of the backend's package as the keyword `impl`."""

    backend: str
    code: str
    fn: Callable[..., Any]
    uses: str = ""


@dataclass(frozen=True)
class PortingCase:
    """A default that differs between frameworks, measured.

    `naive` is the port a reader would write first, `fixed` the port that agrees with
    `reference`. `check` is "forward" or "grad:<input>" (then a seeded random cotangent
    is used). The runner reports both differences; the tests require the naive one to
    exceed the tolerance and the fixed one to stay inside it.
    """

    name: str
    summary: str
    make: Callable[[np.random.Generator], dict[str, Any]]
    reference: Side
    naive: Side
    fixed: Side
    check: str = "forward"
    dtype: str = "float32"
    seed: int = 0
    source: str = ""


@dataclass(frozen=True)
class Override:
    """A tolerance that replaces the table entry where `check` (a kind: forward, grad,
    numeric, builtin, step) and, when given, `case`, `dtype` and `backend` match."""

    check: str
    tolerance: Tolerance
    case: str | None = None
    dtype: str | None = None
    backend: str | None = None

    def matches(self, *, check: str, case: str, dtype: str, backend: str) -> bool:
        return (self.check == check
                and self.case in (None, case)
                and self.dtype in (None, dtype)
                and self.backend in (None, backend))


@dataclass(frozen=True)
class Skip:
    """A check that is not defined for a case, with the mathematical reason."""

    case: str
    check: str
    reason: str


@dataclass(frozen=True)
class Hint:
    """A typical mistake's advice for `rosetta check`: shown when the first failing check is
    of kind `check` (forward, grad, numeric) on `case` (any case when None). Each one is
    tested on the mutant that makes that mistake (parity_tests/mutants.py)."""

    check: str
    text: str
    case: str | None = None


@dataclass(frozen=True)
class Family:
    """Concepts taught together: one section of the porting guide, one notebook. `book` and
    `syllabus` say where a learner meets them in ゼロから作るDeep Learning and in the JDLA
    E資格 syllabus (shared/concepts/_families.py lists the families in learning order)."""

    id: str
    title: str
    book: str = ""
    syllabus: str = ""


@dataclass(frozen=True)
class Concept:
    """One function, three implementations, one contract.

    The implementations are `<package>.<module>.<function>` in each of numpy_impl,
    torch_impl and tf_impl (`function` defaults to `name`); NumPy also has
    `<function>_backward(dy, **inputs, **kwargs)` returning the gradient of each name in
    `differentiable`, in that order (a dict input, a layer's parameters, gets a dict of
    gradients; a tuple output gets `dy` as a tuple, one cotangent per part). All three
    call the spec module's `validate` first, so bad input fails the same way everywhere.

    A function that returns a tuple names its parts in `outputs`; each part (and each
    leaf of a dict inside it) is compared on its own, as `forward:<path>`.

    A training step has `steps`, e.g. (1, 10): the function is
    `train_step(params, opt_state, batch, hyper) -> (loss, grads, params, opt_state)`,
    each case gives `params`, `opt_state`, `hyper` and `max(steps)` `batches`, and the
    engine compares the loss, every gradient and the parameters after each listed step
    (see shared/training.py). The module's `loss(params, batch, hyper)` serves the
    finite-difference check of the gradients: of every entry, or of `numeric_entries`
    entries per array drawn at random, for a network too large to difference whole.
    A model with an inference path names the batch entry it reads in `predict` (e.g. "x"):
    the module's `predict(params, x, hyper)` (batch norm's running statistics, no dropout)
    is compared too, on each listed step's batch with the parameters after that step.

    A class that restates the function (NumPy's book-style layers: the book's Convolution,
    the Time layers; a framework's own module: BiT's ResNetV2 in torch and in TF) is held to it
    by `layer(module, ref, kwargs) -> {check: (got, want)}`: the engine runs it on the
    module of each backend in `layer_backends`, in every dtype, and records each pair as
    `layer:<check>`, with the forward tolerance, or the grad one where check starts "grad".

    `book_layer` names that NumPy class where it is the book's layer (forward / backward):
    `rosetta show --layer` prints it.

    `family` (a shared/concepts/_families.py id) and `lesson` (1, 2, ... within it) place the
    concept in the learning order: the guide, `rosetta list` and the notebooks follow it.
    """

    name: str
    module: str
    math: str
    japanese: str
    signature: str
    differentiable: tuple[str, ...]
    cases: tuple[Case, ...]
    error_cases: tuple[ErrorCase, ...] = ()
    oracles: tuple[Oracle, ...] = ()
    porting: tuple[PortingCase, ...] = ()
    overrides: tuple[Override, ...] = ()
    skips: tuple[Skip, ...] = ()
    function: str = ""
    outputs: tuple[str, ...] = ()
    steps: tuple[int, ...] = ()
    numeric_entries: int = 0
    predict: str = ""
    layer: Callable[..., dict[str, tuple[Any, Any]]] | None = None
    layer_backends: tuple[str, ...] = ("numpy",)
    family: str = ""
    lesson: int = 0
    book_layer: str = ""
    hints: tuple[Hint, ...] = ()

    @property
    def fn_name(self) -> str:
        return self.function or self.name

    def case(self, name: str) -> Case:
        for case in self.cases:
            if case.name == name:
                return case
        raise KeyError(f"{self.name}: no case named {name!r}")

    def skip_reason(self, case: str, check: str) -> str | None:
        for skip in self.skips:
            if skip.case == case and skip.check == check:
                return skip.reason
        return None
