"""Bad input: every backend raises the same error type with the same message, from the
concept's one shared validator, before any framework code runs."""
import pytest

from parity_tests.conftest import param
from shared import backends
from shared.concepts import all_concepts


def _params():
    for concept in all_concepts():
        for error_case in concept.error_cases:
            for backend in backends.BACKEND_NAMES:
                yield param(concept, error_case, backend,
                            id=f"{backend}-{concept.name}-{error_case.name}", backend=backend)


@pytest.mark.parametrize("concept, error_case, backend_name", list(_params()))
def test_bad_input_is_rejected_clearly(concept, error_case, backend_name):
    backend = backends.get(backend_name)
    fn = backend.impl(concept).forward
    inputs = backend.convert(error_case.make(), "cpu")
    with pytest.raises(error_case.error, match=error_case.match) as info:
        fn(**inputs, **error_case.kwargs)
    assert str(info.value).startswith(f"{concept.name}: "), "the message must name the concept"


def test_every_concept_has_error_cases():
    assert all(concept.error_cases for concept in all_concepts())
