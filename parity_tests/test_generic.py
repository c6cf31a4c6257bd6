"""The generic parity tests, generated from the specs: one per backend x concept x case x
dtype x device, ids like [tf-softmax-overflow-float32-cpu]. Adding a concept or a case to
shared/concepts/ adds its tests here; nothing in this file names a concept."""
import pytest

from parity_tests.conftest import param
from shared import backends, parity
from shared.concepts import all_concepts

DEVICES = {"numpy": ("cpu",), "torch": ("cpu", "gpu"), "tf": ("cpu", "gpu")}


def _params():
    for concept in all_concepts():
        for case in concept.cases:
            for backend in backends.BACKEND_NAMES:
                for dtype in ("float64", "float32"):
                    for device in DEVICES[backend]:
                        task = parity.Task(concept, case, backend, dtype, device)
                        yield param(task, id=task.id, backend=backend, device=device,
                                    group=f"{concept.name}-{case.name}")


@pytest.mark.parametrize("task", list(_params()))
def test_parity(task):
    records = parity.run_task(task)
    assert records, f"{task.id}: the engine produced no comparison"
    failures = [f"{r.check}: abs {r.max_abs_err} rel {r.max_rel_err} (atol {r.atol}, rtol {r.rtol}) {r.note}"
                for r in records if not r.passed]
    assert not failures, "\n".join(failures)
