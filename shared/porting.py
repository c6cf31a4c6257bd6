"""Run a concept's porting cases: measure how far the naive port lands from the
reference and how close the fixed port comes. The porting guide quotes these numbers."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared import backends, tolerances
from shared.backends import Impl
from shared.parity import Comparison, cast_inputs, compare, cotangent_for
from shared.spec import Concept, PortingCase, Side, Tolerance


@dataclass(frozen=True)
class PortingResult:
    concept: str
    case: PortingCase
    tolerance: Tolerance
    naive: Comparison
    fixed: Comparison

    @property
    def shown(self) -> bool:
        """The difference is real (naive outside the tolerance) and the fix removes it."""
        return not self.naive.passed and self.fixed.passed

    def to_json(self) -> dict:
        def err(value):
            return value if np.isfinite(value) else None  # JSON has no inf
        return {"concept": self.concept, "case": self.case.name, "summary": self.case.summary,
                "check": self.case.check, "dtype": self.case.dtype,
                "reference": f"{self.case.reference.backend}: {self.case.reference.code}",
                "naive": f"{self.case.naive.backend}: {self.case.naive.code}",
                "fixed": f"{self.case.fixed.backend}: {self.case.fixed.code}",
                "naive_max_abs_err": err(self.naive.max_abs_err),
                "naive_max_rel_err": err(self.naive.max_rel_err),
                "fixed_max_abs_err": err(self.fixed.max_abs_err),
                "fixed_max_rel_err": err(self.fixed.max_rel_err),
                "atol": self.tolerance.atol, "rtol": self.tolerance.rtol,
                "shown": self.shown, "source": self.case.source}


def needed_backends(case: PortingCase) -> set[str]:
    return {case.reference.backend, case.naive.backend, case.fixed.backend}


def _evaluate(side: Side, case: PortingCase, inputs, cotangent):
    backend = backends.get(side.backend)
    fn = backends.resolved(side.fn, side.backend, side.uses)
    if case.check == "forward":
        return backend.call(fn, inputs, {}, "cpu")
    name = case.check.split(":", 1)[1]
    return backend.vjp(Impl(fn), inputs, {}, (name,), cotangent, "cpu")[1][name]


_RESULTS: dict[tuple[str, str], PortingResult] = {}


def run(concept: Concept, case: PortingCase) -> PortingResult:
    """Measure the case; once per process (its inputs are seeded, so a rerun would give the
    same numbers): the porting tests and the guide's staleness test share one run."""
    key = (concept.name, case.name)
    if key not in _RESULTS:
        _RESULTS[key] = _run(concept, case)
    return _RESULTS[key]


def _run(concept: Concept, case: PortingCase) -> PortingResult:
    inputs = cast_inputs(case.make(np.random.default_rng(case.seed)), case.dtype)
    cotangent = None
    if case.check != "forward":
        out = backends.get(case.reference.backend).call(case.reference.fn, inputs, {}, "cpu")
        cotangent = cotangent_for(case.seed, out.shape, case.dtype)
    kind = "forward" if case.check == "forward" else "grad"
    tol = tolerances.lookup(case.dtype, "cpu", kind)
    want = _evaluate(case.reference, case, inputs, cotangent)
    with np.errstate(invalid="ignore", over="ignore"):  # a naive port may well give inf
        naive = compare(_evaluate(case.naive, case, inputs, cotangent), want, tol)
        fixed = compare(_evaluate(case.fixed, case, inputs, cotangent), want, tol)
    return PortingResult(concept.name, case, tol, naive, fixed)
