"""Bad and extreme input, generated from every spec (rosetta/fuzz.py): every backend gives
the same outcome, the validator's error or the same value, never a framework's own error
and never a silent NaN. A bounded draw runs here; `rosetta fuzz` runs all ~50,000."""
import numpy as np
import pytest

from parity_tests.conftest import machine_skip
from rosetta import fuzz
from shared import backends, checks
from shared.concepts import all_concepts

# every class of every concept at least twice (float64 and float32 where both apply)
ROUNDS = 2
INSTALLED = [name for name in backends.BACKEND_NAMES if not machine_skip(name)]


def _problems(results):
    # the explained exceptions (fuzz.DECLARED) are kept apart in r.declared
    return [f"{check} {backend} {r.variant.id}: {detail}" for r in results for check, backend, detail in r.problems]


def test_every_declared_exception_names_a_class_a_concept_and_a_check():
    names = {c.name for c in all_concepts()}
    for (kind, concept), checks_ in fuzz.DECLARED.items():
        assert kind in fuzz.CLASSES and concept in names, (kind, concept)
        # only values may be declared: never a crash, a silent NaN or an accepted NaN input
        assert set(checks_) <= {"float32 off", "disagreement"} and all(checks_.values()), (kind, concept)


@pytest.mark.parametrize("concept", all_concepts(), ids=lambda c: c.name)
def test_every_backend_gives_one_outcome_for_bad_input(concept):
    found = fuzz.variants([concept])
    groups = {v.kind for v in found}
    results = [fuzz.run_variant(v, INSTALLED) for v in fuzz.draw(found, ROUNDS * len(groups))]
    problems = _problems(results)
    assert not problems, "\n".join(problems[:20])
    assert any(r.verdict == "rejected" for r in results)


def test_the_variants_cover_every_class_the_issue_names():
    found = fuzz.variants(all_concepts())
    assert {v.kind for v in found} == set(fuzz.CLASSES)
    # train steps included: every array of params, opt_state and batch is spoiled somewhere
    paths = {v.path.split(".")[0] for v in found if v.concept.steps}
    assert {"params", "opt_state", "batch"} <= paths


def test_a_spoiled_input_is_the_same_on_every_call():
    variant = next(v for v in fuzz.variants(all_concepts()) if v.kind == "nan" and v.concept.steps)
    first, again = variant.inputs(), variant.inputs()
    path = variant.path
    from shared.trees import flatten
    np.testing.assert_array_equal(flatten(first)[path], flatten(again)[path])
    assert np.isnan(flatten(first)[path]).sum() == 1


def test_the_nan_policy_names_the_argument_and_the_first_bad_entry():
    x = np.array([[1.0, 2.0], [np.nan, np.inf]])
    with pytest.raises(ValueError, match=r"^relu: x has NaN and inf in 2 of 4 entries \(first at index \(1, 0\)\); "
                                         r"NaN and inf inputs are rejected"):
        checks.require_float("relu", "x", x)


@pytest.mark.parametrize("backend", INSTALLED)
def test_relu_of_nan_is_the_same_error_in_every_backend(backend):
    # torch's and TF's where(x > 0, x, 0) would turn the NaN into 0; NumPy would keep it
    b = backends.get(backend)
    relu = b.impl(next(c for c in all_concepts() if c.name == "relu")).forward
    with pytest.raises(ValueError, match=r"^relu: x has NaN in 1 of 3 entries \(first at index \(1,\)\)"):
        relu(b.convert({"x": np.array([1.0, np.nan, -1.0])}, "cpu")["x"])


def test_a_problem_is_reported_not_hidden():
    # the judge itself: a crash, a silent NaN and two messages that differ are each caught
    variant = fuzz.variants([next(c for c in all_concepts() if c.name == "relu")])[0]
    result = fuzz.Result(variant, {
        "numpy": fuzz.Outcome("error", "ValueError: relu: x ..."),
        "torch": fuzz.Outcome("error", "ValueError: relu: something else"),
        "tf": fuzz.Outcome("crash", "InvalidArgumentError: ...")})
    fuzz._judge(result)
    assert {check for check, _, _ in result.problems} == {"framework error", "disagreement"}
    silent = fuzz.Result(fuzz.Variant(variant.concept, variant.case, "float64", "negated", "x"), {
        "numpy": fuzz.Outcome("value", value={"": np.array([np.nan])})},
        reference=fuzz.Outcome("value", value={"": np.array([1.0])}))
    fuzz._judge(silent)
    assert [check for check, _, _ in silent.problems] == ["silent NaN/inf"]
