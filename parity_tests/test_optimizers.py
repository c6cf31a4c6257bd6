"""Optimizer steps are pure: the state goes in and comes out, nothing is modified in
place (torch.optim and Keras do modify their parameters and slots, which is why the
oracles work on copies)."""
import copy

import numpy as np
import pytest

from parity_tests.conftest import param
from shared import backends
from shared.concepts import all_concepts
from shared.trees import flatten

# the optimizer steps; clip_by_global_norm lives beside them but is no step
OPTIMIZERS = [c for c in all_concepts() if c.module == "optimizers" and c.name.endswith("_step")]


def _params():
    for concept in OPTIMIZERS:
        for backend in ("numpy", "torch"):  # TF tensors are immutable: nothing to check
            yield param(concept, backend, id=f"{backend}-{concept.name}", backend=backend)


@pytest.mark.parametrize("concept, backend_name", list(_params()))
def test_a_step_leaves_its_inputs_untouched(concept, backend_name):
    backend = backends.get(backend_name)
    case = next(c for c in concept.cases if c.name.startswith("mid-run"))
    inputs = backend.convert(case.inputs(), "cpu")
    before = copy.deepcopy({k: backend.to_numpy(v) for k, v in flatten(inputs).items()})
    backend.impl(concept).forward(**inputs, **case.kwargs)
    after = {k: backend.to_numpy(v) for k, v in flatten(inputs).items()}
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_every_optimizer_is_listed_in_the_train_step_contract():
    from shared.concepts.mlp_train_step import OPTIMIZERS as CONTRACT
    assert sorted(CONTRACT) == sorted(c.name for c in OPTIMIZERS)
