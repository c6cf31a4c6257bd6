"""`rosetta check`: grade a learner's implementation of a concept against the spec.

The learner's file defines the concept's function under the concept's own name, with the
signature it has in the package of the chosen backend; for NumPy, also the hand-written
`<name>_backward` where the concept is differentiable. Every case of the spec runs through it
in float64: the output against the NumPy reference, the backward against the reference's and
against central differences of the learner's own forward, with the engine's tolerances. The
spec's error cases are advice: a clear error for bad input is good practice, not graded.
For the first failure a hint: the spec's, where it names that mistake, else what the numbers
say (a gradient a constant factor off, a NaN).
"""
from __future__ import annotations

import importlib.util
import inspect
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared import backends, parity
from shared.backends import Impl

DTYPE = "float64"  # the learner's mistakes, not rounding: float64 leaves the formula alone


class CheckError(Exception):
    """A file that cannot be graded: it does not import, or lacks the function."""


@dataclass
class Result:
    case: str
    check: str                 # forward, grad:<input>, numeric:<input>
    passed: bool
    detail: str                # the errors, or what went wrong
    hint: str = ""


def load(concept, path: str | Path, backend: str) -> Impl:
    """The learner's function (and NumPy backward) from `path`, checked for its signature."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(f"rosetta_check_{path.stem}", path)
    if spec is None or not path.is_file():
        raise CheckError(f"{path}: no such Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the learner's file, whatever it raises
        raise CheckError(f"{path} does not import: {type(error).__name__}: {error}") from error
    names = [concept.fn_name] + ([f"{concept.fn_name}_backward"] if backend == "numpy" and concept.differentiable
                                 else [])
    found = []
    for name in names:
        fn = getattr(module, name, None)
        if not callable(fn):
            raise CheckError(f"{path} defines no function {name}")
        want = inspect.signature(getattr(backends.module(backend, concept), name))
        if inspect.signature(fn) != want:
            raise CheckError(f"{name}{inspect.signature(fn)} should be {name}{want}, as in "
                             f"{backends.PACKAGES[backend]}.{concept.module}")
        found.append(fn)
    return Impl(*found)


def grade(concept, impl: Impl, backend: str = "numpy") -> list[Result]:
    """Every check of every case, in the spec's order. An overflow in the learner's code
    shows as the NaN or inf it leaves in the result, not as a warning."""
    if concept.steps:
        raise CheckError(f"{concept.name} is a training step: rosetta check grades functions "
                         "(rosetta parity checks the train steps)")
    results = []
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for case in concept.cases:
            ref = parity.reference(concept, case, DTYPE)
            results += _forward(concept, case, impl, ref, backend)
            if concept.differentiable:
                results += _gradients(concept, case, impl, ref, backend)
    return results


def _tolerance(concept, case, kind: str, backend: str):
    return parity.tolerance(concept, case.name, kind, DTYPE, "cpu", backend)


def _result(case, check: str, run, tol, explain=None) -> Result:
    """Result of comparing run() -> (got, want) within `tol`; a crash is a failure that says why."""
    try:
        got, want = run()
        comparison = parity.compare(got, want, tol)
    except Exception as error:  # the learner's code, whatever it raises
        return Result(case.name, check, False, f"raised {type(error).__name__}: {error}")
    if comparison.passed:
        return Result(case.name, check, True, f"max abs error {comparison.max_abs_err:.1e}")
    detail = f"max abs error {comparison.max_abs_err:.2g} (atol {tol.atol:g}, rtol {tol.rtol:g})"
    return Result(case.name, check, False, detail, _numbers_say(got, want, check, case.name))


def _forward(concept, case, impl, ref, backend) -> list[Result]:
    b = backends.get(backend)
    want = parity.output_leaves(concept, ref.out)
    out = parity.lazy_value(lambda: parity.output_leaves(concept, b.call(impl.forward, ref.inputs, case.kwargs,
                                                                         "cpu")))
    tol = _tolerance(concept, case, "forward", backend)
    results = [_result(case, f"forward:{path}" if path else "forward", lambda path=path: (out()[path], want[path]),
                       tol) for path in want]
    return [r for r in results if not concept.skip_reason(case.name, r.check)]


def _gradients(concept, case, impl, ref, backend) -> list[Result]:
    b = backends.get(backend)
    grads = parity.lazy_value(lambda: b.vjp(impl, ref.inputs, case.kwargs, concept.differentiable, ref.cotangent,
                                            "cpu")[1])
    results = [_result(case, f"grad:{name}", lambda name=name: (grads()[name], ref.grads[name]),
                       _tolerance(concept, case, "grad", backend)) for name in ref.grads]
    if backend == "numpy":  # the hand-written backward against the learner's own forward, differentiated
        exact = parity.upcast(ref.inputs)
        results += [_result(case, f"numeric:{name}", lambda name=name: (grads()[name], parity.numeric_vjp(
            impl.forward, exact, case.kwargs, name, ref.cotangent)), _tolerance(concept, case, "numeric", backend))
                    for name in ref.grads]
    # what the spec declares undefined for a case (central differences across a kink) is not graded either
    return [r for r in results if not concept.skip_reason(case.name, r.check)]


def _numbers_say(got, want, check: str, case: str) -> str:
    """What the two arrays say about the mistake: NaN or inf, a constant factor, a sign."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    what = "the output" if check.startswith("forward") else f"the gradient ({check})"
    if got.shape != want.shape:
        return f"{what} has shape {got.shape}, the reference {want.shape} on case {case}"
    if not np.all(np.isfinite(got)):
        return f"{what} holds NaN or inf on case {case}: an exp or a division overflowed"
    mask = np.abs(want) > 1e-12
    if mask.any():
        ratios = got[mask] / want[mask]
        if np.ptp(ratios) <= 1e-6 * max(1.0, abs(ratios[0])):
            factor = ratios[0]
            if abs(factor) < 1e-12:
                return f"{what} is 0 wherever the reference's is not, on case {case}"
            if abs(factor + 1) < 1e-6:
                return f"{what} has the wrong sign on case {case}"
            return f"{what} is {factor:.4g}x the reference on case {case}: check the scale (a 1/N, a factor of 2)"
    return f"{what} differs from the reference on case {case}: compare with `rosetta show`"


def hint(concept, failure: Result) -> str:
    """The spec's hint for this failure, where one names it, else what the numbers said, else
    where to start."""
    kind = failure.check.split(":")[0]
    for declared in concept.hints:
        if declared.check == kind and declared.case in (None, failure.case):
            return declared.text
    return failure.hint or (f"start with case {failure.case}, check {failure.check} ({failure.detail[:60]}); "
                            f"`rosetta show {concept.name}` prints the reference")


@dataclass
class Report:
    """What `rosetta check` says about one file, for the terminal and for the notebooks alike."""

    results: list[Result]
    hint: str = ""
    advice: tuple[str, ...] = ()
    error: str = ""  # why the file could not be graded

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if not r.passed]

    @property
    def code(self) -> int:
        """The exit status: 0 every check passed, 1 one did not, 2 the file could not be graded."""
        return 2 if self.error else 1 if self.failed else 0

    def lines(self) -> list[tuple[str, str]]:
        """(kind, text): kind is ok, fail, hint, advice, summary or error."""
        if self.error:
            return [("error", f"rosetta check: {self.error}")]
        lines = [("ok" if r.passed else "fail", f"{'ok  ' if r.passed else 'FAIL'} {r.case:<22} {r.check:<14} "
                  f"{r.detail}") for r in self.results]
        lines += [("hint", f"hint {self.hint}")] if self.failed else []
        lines += [("advice", f"advice (not graded): bad input {line}") for line in self.advice]
        return lines + [("summary", f"{len(self.results) - len(self.failed)} of {len(self.results)} checks passed")]


def report(concept, path: str | Path, backend: str = "numpy") -> Report:
    """Load, grade, hint and advise: everything `rosetta check CONCEPT PATH` prints."""
    try:
        impl = load(concept, path, backend)
        results = grade(concept, impl, backend)
    except CheckError as error:
        return Report([], error=str(error))
    found = Report(results, advice=tuple(advice(concept, impl, backend)))
    if found.failed:
        found.hint = hint(concept, found.failed[0])
    return found


def advice(concept, impl: Impl, backend: str = "numpy") -> list[str]:
    """For each error case the learner's function does not reject as the spec does: what the
    spec expects. Advice only: it never fails the check."""
    b = backends.get(backend)
    said = []
    for case in concept.error_cases:
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():  # a NaN from an empty batch is the answer
                warnings.simplefilter("ignore", RuntimeWarning)
                b.call(impl.forward, b.convert(case.make(), "cpu"), case.kwargs, "cpu")
            got = "returned a value"
        except Exception as error:  # the learner's code, whatever it raises
            if isinstance(error, case.error) and re.search(case.match, str(error)):
                continue
            got = f"raised {type(error).__name__}: {str(error)[:80]}"
        expected = case.match.replace("\\", "")  # the spec's pattern, as the message reads
        said.append(f"{case.name}: the reference raises {case.error.__name__} ({expected[:70]}...); yours {got}")
    return said
