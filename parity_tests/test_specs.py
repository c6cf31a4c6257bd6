"""Spec hygiene: names that resolve, signatures that match across the three packages,
overrides and skips that point at real cases, reasons that are written down."""
import inspect

import pytest

from parity_tests.conftest import machine_skip
from shared import backends
from shared.concepts import all_concepts

CONCEPTS = all_concepts()


@pytest.mark.parametrize("concept", CONCEPTS, ids=lambda c: c.name)
def test_spec_is_complete_and_consistent(concept):
    names = [case.name for case in concept.cases]
    assert len(names) == len(set(names)), "case names become test ids: they must be unique"
    assert concept.math and concept.japanese and concept.signature
    for skip in concept.skips:
        assert skip.case in names and skip.reason
    for override in concept.overrides:
        assert override.case in (None, *names) and override.tolerance.reason
    for case in concept.porting:
        assert case.summary and case.source


@pytest.mark.parametrize("concept", CONCEPTS, ids=lambda c: c.name)
@pytest.mark.parametrize("backend", ["torch", "tf"])
def test_same_name_same_signature_in_every_package(concept, backend):
    if machine_skip(backend):
        pytest.skip(f"{backend} not installed")
    reference = inspect.signature(backends.get("numpy").impl(concept).forward)
    assert inspect.signature(backends.get(backend).impl(concept).forward) == reference


@pytest.mark.parametrize("concept", [c for c in CONCEPTS if c.differentiable], ids=lambda c: c.name)
def test_numpy_backward_takes_the_forward_arguments_after_dy(concept):
    impl = backends.get("numpy").impl(concept)
    forward = list(inspect.signature(impl.forward).parameters)
    backward = list(inspect.signature(impl.backward).parameters)
    assert backward == ["dy"] + forward
