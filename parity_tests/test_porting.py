"""Each porting case must show its difference: the naive port outside the tolerance, the
fixed port inside it. The numbers themselves are measured, never written down here."""
import pytest

from shared import backends, porting
from shared.concepts import all_concepts


def _params():
    for concept in all_concepts():
        for case in concept.porting:
            absent = sorted(b for b in porting.needed_backends(case) if not backends.installed(b))
            marks = [pytest.mark.skip(reason=f"{', '.join(absent)} not installed")] if absent else []
            yield pytest.param(concept, case, id=f"{concept.name}-{case.name}", marks=marks)


@pytest.mark.parametrize("concept, case", list(_params()))
def test_porting_case_measures_a_real_difference_and_its_fix(concept, case):
    result = porting.run(concept, case)
    assert not result.naive.passed, (
        f"naive port {case.naive.code!r} agrees with {case.reference.code!r} "
        f"(max abs err {result.naive.max_abs_err:.2e}): the documented difference is gone")
    assert result.fixed.passed, (
        f"fixed port {case.fixed.code!r} is off by {result.fixed.max_abs_err:.2e} "
        f"(atol {result.tolerance.atol}, rtol {result.tolerance.rtol}) {result.fixed.note}")
