"""The engine's own rules: how it compares, its cotangents and its finite differences."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from shared import parity, tolerances
from shared.spec import Tolerance

TOL = Tolerance(1e-8, 1e-6, "test")


def test_compare_passes_within_and_fails_outside_the_tolerance():
    want = np.array([1.0, 100.0, 0.0])
    assert parity.compare(want + [5e-7, 5e-5, 5e-9], want, TOL).passed
    assert not parity.compare(want + [0, 2e-4, 0], want, TOL).passed  # 2e-6 relative at 100


def test_compare_never_accepts_nan_even_against_nan():
    nan = np.array([np.nan, 1.0])
    result = parity.compare(nan, nan, TOL)
    assert not result.passed and "NaN" in result.note


def test_compare_accepts_an_infinity_only_against_the_same_infinity():
    assert parity.compare(np.array([-np.inf, 1.0]), np.array([-np.inf, 1.0]), TOL).passed
    assert not parity.compare(np.array([-np.inf, 1.0]), np.array([-20.0, 1.0]), TOL).passed


def test_compare_rejects_a_shape_mismatch_instead_of_broadcasting():
    assert not parity.compare(np.ones((3, 1)), np.ones(3), TOL).passed


def test_relative_error_ignores_zero_references_but_the_abs_error_keeps_them():
    result = parity.compare(np.array([1e-9, 2.0]), np.array([0.0, 2.0]), TOL)
    assert result.max_abs_err == pytest.approx(1e-9) and result.max_rel_err == 0.0


def test_cotangent_is_random_seeded_and_exact_in_the_dtype():
    v = parity.cotangent_for(5, (50,), "float32")
    assert np.unique(v).size == 50, "a constant cotangent (a .sum()) would hide errors"
    assert np.array_equal(v, parity.cotangent_for(5, (50,), "float32"))
    assert np.array_equal(v, v.astype(np.float32).astype(np.float64))


@settings(max_examples=25, deadline=None)
@given(arrays(np.float64, st.integers(1, 6), elements=st.floats(-3, 3)))
def test_numeric_vjp_matches_a_closed_form_derivative(x):
    # d<sin(x), v>/dx = v cos(x), independent of anything under test
    v = np.linspace(-1, 1, x.size)
    got = parity.numeric_vjp(lambda x: np.sin(x), {"x": x}, {}, "x", v)
    np.testing.assert_allclose(got, v * np.cos(x), atol=1e-8, rtol=1e-7)  # O(h^2) + O(eps/h)


def test_numeric_vjp_reaches_a_leaf_of_a_dict_input_through_every_part_of_a_tuple_output():
    # f(x, p) = (p.a * x, sin(p.a)): d/dp.a of <f, (v0, v1)> = <x, v0> + cos(p.a) v1, a closed form
    x, a = np.array([1.0, -2.0, 0.5]), np.array([0.3, 1.1, -0.7])
    v = (np.array([0.2, -1.0, 0.4]), np.array([1.5, 0.5, -2.0]))
    got = parity.numeric_vjp(lambda x, p: (p["a"] * x, np.sin(p["a"])), {"x": x, "p": {"a": a, "b": a}}, {},
                             "p.a", v)
    np.testing.assert_allclose(got, x * v[0] + np.cos(a) * v[1], atol=1e-8, rtol=1e-7)  # O(h^2) + O(eps/h)


def test_a_tuple_output_gets_one_cotangent_per_part_each_drawn_on_its_own():
    v = parity.cotangent_like(5, (np.zeros(4), np.zeros((2, 3))), "float64")
    assert [p.shape for p in v] == [(4,), (2, 3)]
    assert np.unique(np.concatenate([v[0], v[1].ravel()])).size == 10, "the parts are separate draws"
    assert np.array_equal(parity.cotangent_like(5, np.zeros(4), "float64"), parity.cotangent_for(5, (4,), "float64"))


def test_float32_reference_is_computed_from_the_rounded_inputs():
    from shared.concepts import get
    concept = get("softmax")
    ref = parity.reference(concept, concept.case("batch"), "float32")
    assert ref.inputs["x"].dtype == np.float32
    expected = np.exp(ref.inputs["x"].astype(np.float64))
    expected /= expected.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(ref.out, expected, rtol=1e-14)  # float64 arithmetic, rounded inputs


def test_every_tolerance_has_a_reason_and_every_kind_and_device_is_covered():
    for dtype in parity.DTYPES:
        for device in ("cpu", "gpu"):
            for kind in ("forward", "grad", "builtin"):
                assert tolerances.lookup(dtype, device, kind).reason
    assert tolerances.lookup("float64", "cpu", "numeric").reason
    with pytest.raises(KeyError, match="no tolerance"):
        tolerances.lookup("float16", "cpu", "forward")


def test_record_json_has_exactly_the_published_keys():
    record = parity.Record("c", "k", "torch", "cpu", "float32", "forward", 0.0, 0.0, 1e-6, 1e-5, True)
    assert tuple(record.to_json()) == parity.RECORD_KEYS == (
        "concept", "case", "backend", "device", "dtype", "check",
        "max_abs_err", "max_rel_err", "atol", "rtol", "passed")


def test_a_scaled_atol_is_relative_to_the_largest_entry():
    tol = Tolerance(1e-6, 0.0, "test", scaled=True)
    want = np.array([1e-3, 1e-9])
    assert parity.compare(want + [0, 5e-10], want, tol).passed  # 5e-10 <= 1e-6 * 1e-3
    assert not parity.compare(want + [0, 2e-9], want, tol).passed
    result = parity.compare(want, want, tol)
    assert result.atol == pytest.approx(1e-9)  # the record shows the atol applied


def test_a_scaled_atol_accepts_exact_zeros_only_against_zeros():
    tol = Tolerance(1e-6, 1e-5, "test", scaled=True)
    assert parity.compare(np.zeros(3), np.zeros(3), tol).passed
    assert not parity.compare(np.array([0.0, 1e-30, 0.0]), np.zeros(3), tol).passed


def test_trees_are_flattened_to_dotted_paths():
    from shared.trees import flatten, tree_map
    tree = {"params": {"W1": 1, "b": [2, 3]}, "t": 4}
    assert flatten(tree) == {"params.W1": 1, "params.b.0": 2, "params.b.1": 3, "t": 4}
    assert tree_map(lambda v: v * 10, tree) == {"params": {"W1": 10, "b": [20, 30]}, "t": 40}
    assert flatten(5) == {"": 5}


def test_tuple_outputs_are_named_by_the_concept():
    from shared.concepts import get
    concept = get("adam_step")  # outputs ("param", "state")
    leaves = parity.output_leaves(concept, (np.ones(2), {"m": np.zeros(2), "v": np.zeros(2), "t": 1}))
    assert set(leaves) == {"param", "state.m", "state.v", "state.t"}
    with pytest.raises(TypeError, match="adam_step must return a tuple"):
        parity.output_leaves(concept, np.ones(2))


def test_a_float32_task_that_computes_in_float64_fails_its_forward_check():
    # np.sqrt(2) is a NumPy float64 scalar: under NumPy 2 it promotes a float32 array, and the
    # float64 result would compare well with the float64 reference
    from shared.backends import Impl
    from shared.concepts import get
    concept = get("relu")
    task = parity.Task(concept, concept.cases[0], "numpy", "float32", "cpu")
    records = parity.run_task(task, impl=Impl(lambda x: np.maximum(x, 0) * np.sqrt(2) / np.sqrt(2),
                                              lambda dy, x: dy * (x > 0)))
    forward = [r for r in records if r.check == "forward"]
    assert forward and not forward[0].passed and "float64 where the inputs are float32" in forward[0].note
